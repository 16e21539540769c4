"""The LLM path: a llama-index FunctionAgent (tool-calling LLMs) or ReActAgent (any chat LLM).

The LLM is any OpenAI-compatible endpoint (`OpenAILike` at the configured URL and model), or an LLM
object passed in (tests pass scripted ones). The tools are the `VideoTools` methods, wrapped so their
results reach the LLM as JSON; the system prompt is `prompts.SYSTEM_PROMPT`. llama-index is imported
only inside these functions, so importing the agent package stays light.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar, cast

from vidrag.agent.llm_server import BAD_ARGUMENTS, ThinkingFilter, aclose_llm, describe_llm_error, visible_text
from vidrag.agent.prompts import SYSTEM_PROMPT
from vidrag.storage.errors import BackendUnavailable, VidragError
from vidrag.tools.arguments import arguments_model
from vidrag.tools.evidence import JSON
from vidrag.tools.video_tools import VideoTools

if TYPE_CHECKING:
    from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
    from llama_index.core.llms import LLM
    from llama_index.core.tools import FunctionTool

    from vidrag.agent.sessions import Turn

log = logging.getLogger(__name__)

MAX_ITERATIONS = 12
Stream = Callable[[dict[str, JSON]], None]
T = TypeVar("T")


def llama_tools(tools: VideoTools) -> list[FunctionTool]:
    """The VideoTools methods as llama-index FunctionTools returning JSON text, each with the schema
    `arguments_model` builds from the method (the one the MCP tool list shows too)."""
    from llama_index.core.tools import FunctionTool

    return [FunctionTool.from_defaults(fn=json_tool(fn), fn_schema=arguments_model(fn)) for fn in tools.functions()]


def json_tool(fn: Callable[..., object]) -> Callable[..., str]:
    """A tool method as a function returning its result as JSON text (what the LLM and MCP clients read).

    Arguments that do not fit the method's signature come back as an `{"error": ...}` naming its
    parameters, so the caller can correct the call.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: object, **kwargs: object) -> str:
        if BAD_ARGUMENTS in kwargs:
            return json.dumps(
                {
                    "error": f"The arguments of {fn.__name__} were not valid JSON "
                    f"({str(kwargs[BAD_ARGUMENTS])[:200]!r}); call it again with a JSON "
                    "object of its parameters."
                },
                ensure_ascii=False,
            )
        try:
            signature.bind(*args, **kwargs)
        except TypeError as err:
            return json.dumps(
                {"error": f"Bad arguments for {fn.__name__}: {err}; its parameters are {list(signature.parameters)}."},
                ensure_ascii=False,
            )
        return json.dumps(fn(*args, **kwargs), ensure_ascii=False, default=str)

    return call


def build_agent(tools: VideoTools, llm: LLM, *, streaming: bool = False) -> tuple[FunctionAgent | ReActAgent, str]:
    """The agent for this LLM and its mode name ("llm:function" or "llm:react")."""
    from llama_index.core.agent.workflow import FunctionAgent, ReActAgent

    function_calling = bool(getattr(llm.metadata, "is_function_calling_model", False))
    cls, mode = (FunctionAgent, "llm:function") if function_calling else (ReActAgent, "llm:react")
    agent = cls(
        name="vidrag",
        description="Answers questions about a video library.",
        tools=llama_tools(tools),
        llm=llm,
        system_prompt=SYSTEM_PROMPT,
        streaming=streaming,
    )
    return agent, mode


def run_llm_agent(
    tools: VideoTools,
    question: str,
    llm: LLM,
    *,
    history: list[Turn] | None = None,
    stream: Stream | None = None,
) -> tuple[str, str]:
    """Run the agent on a question; returns (raw answer text, mode).

    Raises:
        BackendUnavailable: the LLM failed or could not be reached.
    """
    from llama_index.core.agent.workflow import AgentInput, AgentOutput, AgentStream
    from llama_index.core.llms import ChatMessage

    agent, mode = build_agent(tools, llm, streaming=stream is not None)
    chat = [
        ChatMessage(role=role, content=text)
        for turn in history or []
        for role, text in (("user", turn["question"]), ("assistant", turn["answer"]))
    ]

    async def go() -> str:
        visible = ThinkingFilter()
        try:
            handler = agent.run(user_msg=question, chat_history=chat, max_iterations=MAX_ITERATIONS)
            async for event in handler.stream_events():
                if stream is not None and isinstance(event, AgentInput):
                    visible.reset()
                elif stream is not None and isinstance(event, AgentStream) and event.delta:
                    delta = visible.delta(event.response or event.delta)
                    if delta:
                        stream({"type": "token", "delta": delta})
            result = cast(AgentOutput, await handler)  # the workflow's result type is left open
        finally:
            await aclose_llm(llm)
        return visible_text(str(result.response.content or "")).strip()

    try:
        return _run_sync(go), mode
    except VidragError:
        raise
    except Exception as err:
        log.info("the agent failed: %s: %s", type(err).__name__, err, exc_info=log.isEnabledFor(logging.DEBUG))
        message = describe_llm_error(
            err, url=str(getattr(llm, "api_base", "") or ""), timeout=getattr(llm, "timeout", None)
        )
        raise BackendUnavailable(message) from err


def _run_sync(make: Callable[[], Coroutine[object, object, T]]) -> T:
    """Run a coroutine factory to completion, also from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here: run one (outside this handler, so errors are not chained to it)
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
