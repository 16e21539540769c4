"""The LLM path: a llama-index FunctionAgent (tool-calling LLMs) or ReActAgent (any chat LLM).

The LLM is any OpenAI-compatible endpoint (`OpenAILike` at the configured URL and model), or an LLM
object passed in (tests pass scripted ones). The tools are the `VideoTools` methods, wrapped so their
results reach the LLM as JSON; the system prompt is `prompts.SYSTEM_PROMPT`. llama-index is imported
only inside these functions, so importing the agent package stays light.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.prompts import SYSTEM_PROMPT
from storage.errors import BackendUnavailable, InputError, VidragError
from tools.video_tools import VideoTools

log = logging.getLogger(__name__)

MAX_ITERATIONS = 12
Stream = Callable[[dict[str, Any]], None]


def make_llm(settings: Any) -> Any:
    """An OpenAILike chat LLM at `settings.llm_url` serving `settings.llm_model`.

    Raises:
        InputError: no LLM URL is configured.
        BackendUnavailable: the openai-like integration is not installed.
    """
    if not getattr(settings, "llm_url", None):
        raise InputError("No LLM is configured; set VIDRAG_LLM_URL (and VIDRAG_LLM_MODEL) to use one.")
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as err:
        raise BackendUnavailable(
            "The OpenAI-compatible LLM client is missing; run `pip install llama-index-llms-openai-like`."
        ) from err
    return OpenAILike(
        model=settings.llm_model, api_base=settings.llm_url, api_key=settings.llm_api_key or "not-needed",
        is_chat_model=True, is_function_calling_model=bool(settings.llm_function_calling),
        context_window=32768, timeout=120.0,
    )


def llama_tools(tools: VideoTools) -> list[Any]:
    """The VideoTools methods as llama-index FunctionTools returning JSON text."""
    from llama_index.core.tools import FunctionTool

    return [FunctionTool.from_defaults(fn=_as_json(fn)) for fn in tools.functions()]


def _as_json(fn: Callable[..., Any]) -> Callable[..., str]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> str:
        return json.dumps(fn(*args, **kwargs), ensure_ascii=False, default=str)

    return call


def build_agent(tools: VideoTools, llm: Any, *, streaming: bool = False) -> tuple[Any, str]:
    """The agent for this LLM and its mode name ("llm:function" or "llm:react")."""
    from llama_index.core.agent.workflow import FunctionAgent, ReActAgent

    function_calling = bool(getattr(llm.metadata, "is_function_calling_model", False))
    cls, mode = (FunctionAgent, "llm:function") if function_calling else (ReActAgent, "llm:react")
    agent = cls(name="vidrag", description="Answers questions about a video library.",
                tools=llama_tools(tools), llm=llm, system_prompt=SYSTEM_PROMPT, streaming=streaming)
    return agent, mode


def run_llm_agent(tools: VideoTools, question: str, llm: Any, *, history: list[dict[str, Any]] | None = None,
                  stream: Stream | None = None) -> tuple[str, str]:
    """Run the agent on a question; returns (raw answer text, mode).

    Raises:
        BackendUnavailable: the LLM failed or could not be reached.
    """
    from llama_index.core.agent.workflow import AgentStream
    from llama_index.core.llms import ChatMessage

    agent, mode = build_agent(tools, llm, streaming=stream is not None)
    chat = [ChatMessage(role=role, content=turn[key]) for turn in history or []
            for role, key in (("user", "question"), ("assistant", "answer"))]

    async def go() -> str:
        handler = agent.run(user_msg=question, chat_history=chat, max_iterations=MAX_ITERATIONS)
        async for event in handler.stream_events():
            if stream is not None and isinstance(event, AgentStream) and event.delta:
                stream({"type": "token", "delta": event.delta})
        result = await handler
        return str(result.response.content or "")

    try:
        return _run_sync(go), mode
    except VidragError:
        raise
    except Exception as err:
        log.exception("the agent failed")
        model = getattr(llm, "model", type(llm).__name__)
        raise BackendUnavailable(
            f"The LLM agent ({model}) failed: {type(err).__name__}: {err}. Check that the server at "
            "VIDRAG_LLM_URL is up, or unset VIDRAG_LLM_URL to answer without an LLM."
        ) from err


def _run_sync(make: Callable[[], Any]) -> Any:
    """Run a coroutine factory to completion, also from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
