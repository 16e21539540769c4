"""The agent's LLM as a real OpenAI-compatible server meets it: vLLM, Ollama, OpenAI.

`server_llm` builds llama-index's `OpenAILike` with what tests against these servers' wire formats
showed it needs (tests/agent/test_llm_wire.py):

- Ollama's `/v1/chat/completions` streams all the tool calls of a turn in ONE chunk; llama-index's
  stream accumulator (`update_tool_calls`) reads only the first call of a chunk and drops the rest,
  so streamed chunks are split into one tool call each before llama-index sees them.
- Invalid JSON arguments are silently turned into `{}` by llama-index, so the tool then fails with
  "missing argument"; they are passed on marked (`BAD_ARGUMENTS`) so the tool can tell the LLM.
- One retry layer: the openai client's (short backoff, honours Retry-After). llama-index would wrap
  it in a second one (tenacity, 1–20 s waits), which multiplies requests and waits on a down server.
- The async client belongs to the event loop of one run; `aclose_llm` closes it at the end of the
  run (else its pooled connections are closed by the garbage collector on a dead loop, which prints
  "Event loop is closed" tracebacks, and a second run reuses dead connections).

`describe_llm_error` turns what a failing server raises into one sentence with the fix, and
`ThinkingFilter` keeps `<think>…</think>` blocks (Qwen3 served without a reasoning parser) out of
streamed tokens. llama-index is imported only when an LLM is built.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatResponse
    from llama_index.core.llms import LLM
    from llama_index.core.llms.llm import ToolSelection
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletionChunk

log = logging.getLogger(__name__)

BAD_ARGUMENTS = "__vidrag_bad_arguments__"


def server_llm(
    *, url: str, model: str, api_key: str | None, function_calling: bool, timeout: float = 120.0, retries: int = 2
) -> LLM:
    """An OpenAILike chat LLM at `url` (ending in /v1) serving `model`, with vidrag's workarounds."""
    return _llm_class()(
        model=model,
        api_base=url,
        api_key=api_key or "not-needed",
        is_chat_model=True,
        is_function_calling_model=function_calling,
        context_window=32768,
        timeout=float(timeout),
        max_retries=0,
        client_retries=max(0, int(retries)),
    )


@functools.cache
def _llm_class() -> type[LLM]:
    from llama_index.core.base.llms.types import ToolCallBlock
    from llama_index.core.bridge.pydantic import Field
    from llama_index.llms.openai_like import OpenAILike

    class ServerLLM(OpenAILike):
        """OpenAILike with one tool call per streamed chunk and invalid arguments marked."""

        client_retries: int = Field(default=2, description="Retries of the openai client on 429/5xx/connection errors.")

        @classmethod
        def class_name(cls) -> str:
            return "VidragServerLLM"

        def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, object]:
            return {**super()._get_credential_kwargs(is_async), "max_retries": self.client_retries}

        def _get_aclient(self) -> _OneToolCallPerChunk:
            return _OneToolCallPerChunk(super()._get_aclient())

        def get_tool_calls_from_response(
            self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: object
        ) -> list[ToolSelection]:
            selections: list[ToolSelection] = super().get_tool_calls_from_response(
                response, error_on_no_tool_call, **kwargs
            )
            blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            if len(blocks) == len(selections):
                for block, selection in zip(blocks, selections):
                    text = block.tool_kwargs
                    if isinstance(text, str) and text.strip() and not _is_json_object(text):
                        selection.tool_kwargs = {BAD_ARGUMENTS: text}
            return selections

        async def aclose(self) -> None:
            """Close the async client of this run (its connections belong to this run's loop)."""
            client: _OneToolCallPerChunk | None = self._aclient  # type: ignore[has-type]  # a pydantic PrivateAttr of the parent class
            self._aclient = None
            if client is not None:
                await client.close()

    return ServerLLM


async def aclose_llm(llm: object) -> None:
    """Close an LLM's per-run async client, if it has one (scripted test LLMs do not)."""
    close = getattr(llm, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception as err:  # noqa: BLE001 - closing must not hide the run's own result
            log.debug("closing the LLM client failed: %s", err)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class _OneToolCallPerChunk:
    """An AsyncOpenAI stand-in whose streamed chat chunks carry at most one tool call each."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        self.chat = self
        self.completions = self

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    async def close(self) -> None:
        await self._client.close()

    async def create(self, **kwargs: Any) -> object:  # Any: openai's create() is typed per keyword (overloads)
        result = await self._client.chat.completions.create(**kwargs)
        return _split_tool_calls(result) if kwargs.get("stream") else result


async def _split_tool_calls(stream: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    async for chunk in stream:
        delta = chunk.choices[0].delta if chunk.choices else None
        calls = (delta.tool_calls or []) if delta is not None else []
        if delta is None or len(calls) <= 1:
            yield chunk
            continue
        for n, call in enumerate(calls):
            part = delta.model_copy(update={"tool_calls": [call], "content": delta.content if n == 0 else None})
            yield chunk.model_copy(update={"choices": [chunk.choices[0].model_copy(update={"delta": part})]})


def _chain(err: BaseException | None) -> list[BaseException]:
    """The error and its causes (`raise ... from`), outermost first."""
    chain: list[BaseException] = []
    while err is not None and err not in chain:
        chain.append(err)
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    return chain


_TIMEOUTS = {"APITimeoutError", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout", "TimeoutError"}
_BROKEN = {"APIConnectionError", "RemoteProtocolError", "ReadError", "ConnectError", "ConnectionError"}


def describe_llm_error(err: BaseException, *, url: str = "", timeout: float | None = None) -> str:
    """One sentence saying what went wrong with the LLM server and what to do about it."""
    where = f"The LLM server at {url}" if url else "The LLM"
    chain = _chain(err)
    names = [type(e).__name__ for e in chain]
    status = next((getattr(e, "status_code", None) for e in chain if getattr(e, "status_code", None)), None)
    if status is not None:
        body = next((getattr(e, "body", None) for e in chain if getattr(e, "body", None) is not None), None)
        detail = body.get("message", body) if isinstance(body, dict) else (body or str(err))
        hint = {
            400: "the server refused the request",
            401: "check VIDRAG_LLM_API_KEY",
            403: "check VIDRAG_LLM_API_KEY",
            404: "check VIDRAG_LLM_MODEL and that VIDRAG_LLM_URL ends in /v1",
        }.get(status, "check the server's log; it may be overloaded or out of memory")
        if "enable-auto-tool-choice" in str(detail):
            hint = (
                "start vLLM with --enable-auto-tool-choice --tool-call-parser hermes, or set "
                "VIDRAG_LLM_FUNCTION_CALLING=false to use the ReAct agent"
            )
        return f"{where} answered HTTP {status}: {str(detail)[:300]}; {hint}."
    if _TIMEOUTS.intersection(names):
        limit = f" within {timeout:g} s" if timeout else ""
        return (
            f"{where} did not answer{limit}; check that it is running and not overloaded, or raise VIDRAG_LLM_TIMEOUT."
        )
    if _BROKEN.intersection(names):
        name = next(n for n in reversed(names) if n in _BROKEN)
        return (
            f"{where} could not be reached or closed the connection mid-answer ({name}); check that "
            "it is running at VIDRAG_LLM_URL."
        )
    if "Max iterations" in str(err):
        return f"The LLM agent did not finish in its step limit ({err}); ask a narrower question."
    return (
        f"The LLM agent failed ({type(err).__name__}: {str(err)[:300]}); check the server at "
        "VIDRAG_LLM_URL, or unset it to answer without an LLM."
    )


_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


def visible_text(text: str) -> str:
    """The text without `<think>` blocks (an unclosed one hides the rest) or a half-written tag."""
    text = _THINK_BLOCK.sub("", text)
    text = re.sub(r"</think>", "", text, flags=re.IGNORECASE)
    for cut in range(min(len(text), len("<think>") - 1), 0, -1):  # "<thi" may become "<think>"
        if "<think>".startswith(text[-cut:].lower()):
            return text[:-cut]
    return text


class ThinkingFilter:
    """Turns one LLM turn's growing text into the deltas a user should see (no `<think>` blocks)."""

    def __init__(self) -> None:
        self.sent = ""

    def reset(self) -> None:
        """A new LLM turn begins."""
        self.sent = ""

    def delta(self, text_so_far: str) -> str:
        visible = visible_text(text_so_far)
        if not visible.startswith(self.sent):
            self.sent = ""
        new, self.sent = visible[len(self.sent) :], visible
        return new
