"""Scripted llama-index LLMs for offline agent tests: they replay tool calls, then a final answer.

`ScriptedFunctionLLM` is a FunctionCallingLLM: each script item is either `("call", tool, kwargs)` or
`("answer", text)`; an item may also be a callable taking the messages seen so far and returning one
of those, so a final answer can cite spans the tools really returned. `ScriptedReActLLM` is a plain
chat LLM (not function calling) that writes the same script in ReAct's Thought/Action text format.
Every message list the LLM receives is kept in `seen` for assertions.
"""

from __future__ import annotations

import json
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection


class _Scripted(FunctionCallingLLM):
    _script: list[Any] = PrivateAttr(default_factory=list)
    _seen: list[list[ChatMessage]] = PrivateAttr(default_factory=list)
    _function_calling: bool = PrivateAttr(default=True)

    def __init__(self, script: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = list(script)
        self._seen = []

    @property
    def seen(self) -> list[list[ChatMessage]]:
        return self._seen

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            is_chat_model=True,
            is_function_calling_model=self._function_calling,
            model_name="scripted",
            context_window=32768,
        )

    def _next(self, messages: list[ChatMessage]) -> tuple:
        self._seen.append(list(messages))
        if not self._script:
            return ("answer", "The script is exhausted.")
        item = self._script.pop(0)
        return item(messages) if callable(item) else item

    def _respond(self, messages: list[ChatMessage]) -> ChatResponse:
        raise NotImplementedError

    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        return self._respond(list(messages))

    async def achat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        return self._respond(list(messages))

    def stream_chat(self, messages: Any, **kwargs: Any):
        response = self._respond(list(messages))
        response.delta = response.message.content or ""
        yield response

    async def astream_chat(self, messages: Any, **kwargs: Any):
        response = self._respond(list(messages))
        response.delta = response.message.content or ""

        async def gen():
            yield response

        return gen()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.chat([ChatMessage(role="user", content=prompt)]).message.content or "")

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.complete(prompt)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        yield self.complete(prompt)

    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        async def gen():
            yield self.complete(prompt)

        return gen()

    def _prepare_chat_with_tools(
        self,
        tools: Any,
        user_msg: Any = None,
        chat_history: Any = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(
                user_msg if isinstance(user_msg, ChatMessage) else ChatMessage(role="user", content=user_msg)
            )
        return {"messages": messages}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return list(response.message.additional_kwargs.get("tool_calls", []))


class ScriptedFunctionLLM(_Scripted):
    """A function-calling LLM that replays tool calls, then answers."""

    def _respond(self, messages: list[ChatMessage]) -> ChatResponse:
        item = self._next(messages)
        if item[0] == "call":
            call = ToolSelection(tool_id=f"call-{len(self._seen)}", tool_name=item[1], tool_kwargs=item[2])
            message = ChatMessage(role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [call]})
        else:
            message = ChatMessage(role=MessageRole.ASSISTANT, content=item[1])
        return ChatResponse(message=message)


class ScriptedReActLLM(_Scripted):
    """A chat LLM without tool calling that writes ReAct text: Thought/Action/Action Input, then Answer."""

    def __init__(self, script: list[Any], **kwargs: Any) -> None:
        super().__init__(script, **kwargs)
        self._function_calling = False

    def _respond(self, messages: list[ChatMessage]) -> ChatResponse:
        item = self._next(messages)
        if item[0] == "call":
            text = f"Thought: I need to use a tool.\nAction: {item[1]}\nAction Input: {json.dumps(item[2])}"
        else:
            text = f"Thought: I can answer without using any more tools.\nAnswer: {item[1]}"
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))


def tool_results(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The JSON results of the tool calls in a message list (function-calling or ReAct observations)."""
    out = []
    for message in messages:
        text = message.content or ""
        if message.role == MessageRole.TOOL:
            out.append(json.loads(text))
        elif text.startswith("Observation: "):
            out.append(json.loads(text[len("Observation: ") :]))
    return out
