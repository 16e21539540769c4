"""A fake OpenAI-compatible chat server on 127.0.0.1 that answers byte for byte like vLLM, Ollama or OpenAI.

The server is a plain asyncio socket server (HTTP/1.1, keep-alive) in a thread. It records every
request (method, path, headers, JSON body) and answers from a script: each item is a `Turn` (what
the model says: reasoning, text, tool calls), a callable taking the request body and returning a
`Turn`, or a ready `Reply` (an HTTP error, a hang, a connection dropped mid-stream). A `Turn` is
written in the chosen server's wire format, streamed (`text/event-stream`, one SSE event per HTTP
chunk) when the request says `"stream": true`, else one JSON body.

The formats follow the servers' own code (facts about the format only, no code copied):

- vLLM 0.10.x `vllm serve Qwen/Qwen3-8B --enable-auto-tool-choice --tool-call-parser hermes
  --reasoning-parser qwen3` (entrypoints/openai/protocol.py, serving_chat.py,
  tool_parsers/hermes_tool_parser.py): chunks serialised compactly with unset fields left out and
  `"logprobs":null,"finish_reason":null` in every choice; the first chunk is
  `{"role":"assistant","content":""}`; a hermes tool call streams as one delta with
  `index`, `id` ("chatcmpl-tool-<hex>"), `type` and `function.name`, then deltas carrying only
  `index` and `function.arguments` pieces (arguments re-serialised by `json.dumps`, so `", "`
  separators); reasoning arrives as `reasoning_content` deltas (`reasoning` from vLLM 0.11);
  the last chunk has `finish_reason` "tool_calls" or "stop" and `"stop_reason":null`; errors are
  `{"object":"error","message":…,"type":…,"param":null,"code":…}`; a request with
  `tool_choice: "auto"` to a server started without `--enable-auto-tool-choice` gets HTTP 400.
- Ollama `/v1/chat/completions` (openai/openai.go, middleware/openai.go, 0.9–0.12): Go
  `json.Marshal` output (compact, struct field order, map keys sorted), `system_fingerprint`
  "fp_ollama", every delta carries `"role":"assistant"` and `content`; tool calls come complete
  (whole arguments) and all the calls parsed at once arrive in ONE chunk, each with its `index`;
  thinking arrives as `reasoning`; errors are `{"error":{"message":…,"type":"api_error",
  "param":null,"code":null}}`.
- OpenAI (API reference for chat completions streaming, openai-python 2.x types): first delta
  `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_…","type":"function",
  "function":{"name":…,"arguments":""}}],"refusal":null}` (or `content:""` for text), then
  argument fragments, a last chunk with an empty delta and the finish reason; `service_tier` and
  `system_fingerprint` on every chunk; errors `{"error":{"message":…,"type":"server_error",
  "param":null,"code":null}}`.

Every stream ends with `data: [DONE]`; a usage chunk (empty `choices`) comes first when the request
asks for it with `stream_options.include_usage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

MODELS = {"vllm": "Qwen/Qwen3-8B", "ollama": "qwen3:8b", "openai": "gpt-4o-mini"}
FLAVORS = tuple(MODELS)
_ids = itertools.count(1)


@dataclass
class Turn:
    """What the model says in one reply.

    Attributes:
        content: the text, streamed in `pieces` parts.
        calls: tool calls as (name, arguments text); the text is sent as is, valid JSON or not.
        reasoning: thinking sent before the text in the server's reasoning field.
        pieces: how many parts text, reasoning and each call's arguments are split into.
    """

    content: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)
    reasoning: str = ""
    pieces: int = 3


@dataclass
class Reply:
    """A raw HTTP reply: status, headers, body parts (each one HTTP chunk when chunked).

    `stall` seconds are waited before the first byte; `drop_after` parts are sent before the
    connection is closed without finishing the body; `pause` seconds pass between parts.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    parts: list[bytes] = field(default_factory=list)
    chunked: bool = False
    stall: float = 0.0
    drop_after: int | None = None
    pause: float = 0.0


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def split(text: str, pieces: int) -> list[str]:
    """`text` cut into up to `pieces` consecutive non-empty parts."""
    if not text:
        return []
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _compact(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def sse(data: Any) -> bytes:
    """One server-sent event as these servers write it: `data: <json>` and a blank line."""
    return b"data: " + (data if isinstance(data, bytes) else _compact(data)) + b"\n\n"


class Flavor:
    """One server's wire format for chat completions."""

    name = ""
    stream_type = "text/event-stream; charset=utf-8"
    json_type = "application/json"

    def __init__(self, model: str | None = None) -> None:
        self.model = model or MODELS[self.name]

    # --- pieces every flavor fills in ---------------------------------------------------------

    def call_id(self) -> str:
        raise NotImplementedError

    def envelope(self, rid: str, created: int) -> dict[str, Any]:
        return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": self.model}

    def choice(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    def deltas(self, turn: Turn) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def last_delta(self) -> dict[str, Any]:
        return {}

    def message(self, turn: Turn, ids: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

    # --- shared -------------------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        return {"prompt_tokens": 812, "completion_tokens": 37, "total_tokens": 849}

    def reply(self, turn: Turn, body: dict[str, Any]) -> Reply:
        """The turn as this server answers `body` (streamed when it asks for it)."""
        rid, created = f"chatcmpl-{next(_ids):08x}", int(time.time())
        finish = "tool_calls" if turn.calls else "stop"
        if not body.get("stream"):
            ids = [self.call_id() for _ in turn.calls]
            data = {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": self.model,
                "choices": [self.whole_choice(self.message(turn, ids), finish)],
                "usage": self.usage(),
            }
            return Reply(headers={"content-type": self.json_type}, parts=[_compact(self.finish_body(data))])
        events = [{**self.envelope(rid, created), "choices": [self.choice(d, None)]} for d in self.deltas(turn)]
        events.append({**self.envelope(rid, created), "choices": [self.last_choice(finish)]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**self.envelope(rid, created), "choices": [], "usage": self.usage()})
        parts = [sse(event) for event in events] + [sse(b"[DONE]")]
        return Reply(headers={"content-type": self.stream_type}, parts=parts, chunked=True)

    def whole_choice(self, message: dict[str, Any], finish: str) -> dict[str, Any]:
        return {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}

    def last_choice(self, finish: str) -> dict[str, Any]:
        return self.choice(self.last_delta(), finish)

    def finish_body(self, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def error(self, status: int, message: str, **reply: Any) -> Reply:
        """An HTTP error in this server's error format."""
        return Reply(
            status=status,
            headers={"content-type": self.json_type},
            parts=[_compact(self.error_body(status, message))],
            **reply,
        )


class VLLM(Flavor):
    """vLLM 0.10.x OpenAI server with the hermes tool parser and the qwen3 reasoning parser."""

    name = "vllm"

    def __init__(
        self, model: str | None = None, *, reasoning_field: str = "reasoning_content", auto_tool_choice: bool = True
    ) -> None:
        super().__init__(model)
        self.reasoning_field = reasoning_field
        self.auto_tool_choice = auto_tool_choice

    def call_id(self) -> str:
        return f"chatcmpl-tool-{next(_ids):032x}"

    def deltas(self, turn: Turn) -> Iterator[dict[str, Any]]:
        yield {"role": "assistant", "content": ""}
        for part in split(turn.reasoning, turn.pieces):
            yield {self.reasoning_field: part}
        for part in split(turn.content, turn.pieces):
            yield {"content": part}
        for index, (name, arguments) in enumerate(turn.calls):
            yield {
                "tool_calls": [{"id": self.call_id(), "type": "function", "index": index, "function": {"name": name}}]
            }
            for part in split(arguments, turn.pieces):
                yield {"tool_calls": [{"index": index, "function": {"arguments": part}}]}

    def last_choice(self, finish: str) -> dict[str, Any]:
        return {**self.choice({"content": ""}, finish), "stop_reason": None}

    def message(self, turn: Turn, ids: list[str]) -> dict[str, Any]:
        calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, (n, a) in zip(ids, turn.calls)
        ]
        return {
            "role": "assistant",
            "reasoning_content": turn.reasoning or None,
            "content": turn.content or None,
            "tool_calls": calls,
        }

    def whole_choice(self, message: dict[str, Any], finish: str) -> dict[str, Any]:
        return {**super().whole_choice(message, finish), "stop_reason": None}

    def finish_body(self, data: dict[str, Any]) -> dict[str, Any]:
        data["usage"]["prompt_tokens_details"] = None
        return {**data, "prompt_logprobs": None, "kv_transfer_params": None}

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = "BadRequestError" if status == 400 else "InternalServerError"
        return {"object": "error", "message": message, "type": kind, "param": None, "code": status}

    def check(self, body: dict[str, Any]) -> Reply | None:
        """vLLM's own refusal of `tool_choice: "auto"` without the tool-calling flags."""
        if body.get("tools") and body.get("tool_choice") == "auto" and not self.auto_tool_choice:
            return self.error(
                400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            )
        return None


class Ollama(Flavor):
    """Ollama's OpenAI-compatible endpoint (`ollama serve`, /v1/chat/completions)."""

    name = "ollama"
    stream_type = "text/event-stream"
    json_type = "application/json; charset=utf-8"

    def call_id(self) -> str:
        return f"call_{next(_ids):08x}"

    def envelope(self, rid: str, created: int) -> dict[str, Any]:
        return {**super().envelope(rid, created), "system_fingerprint": "fp_ollama"}

    def choice(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "finish_reason": finish}

    def _calls(self, turn: Turn) -> list[dict[str, Any]]:
        # Go marshals the parsed arguments map again: compact, keys sorted (invalid JSON never parses).
        def again(text: str) -> str:
            try:
                return json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
            except ValueError:
                return text

        return [
            {"id": self.call_id(), "index": i, "type": "function", "function": {"name": n, "arguments": again(a)}}
            for i, (n, a) in enumerate(turn.calls)
        ]

    def deltas(self, turn: Turn) -> Iterator[dict[str, Any]]:
        for part in split(turn.reasoning, turn.pieces):
            yield {"role": "assistant", "content": "", "reasoning": part}
        for part in split(turn.content, turn.pieces):
            yield {"role": "assistant", "content": part}
        if turn.calls:
            yield {"role": "assistant", "content": "", "tool_calls": self._calls(turn)}

    def last_delta(self) -> dict[str, Any]:
        return {"role": "assistant", "content": ""}

    def message(self, turn: Turn, ids: list[str]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": turn.content}
        if turn.reasoning:
            message["reasoning"] = turn.reasoning
        if turn.calls:
            message["tool_calls"] = self._calls(turn)
        return message

    def whole_choice(self, message: dict[str, Any], finish: str) -> dict[str, Any]:
        return {"index": 0, "message": message, "finish_reason": finish}

    def finish_body(self, data: dict[str, Any]) -> dict[str, Any]:
        head = {k: data[k] for k in ("id", "object", "created", "model")}
        return {**head, "system_fingerprint": "fp_ollama", "choices": data["choices"], "usage": data["usage"]}

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "api_error", "param": None, "code": None}}


class OpenAI(Flavor):
    """api.openai.com chat completions."""

    name = "openai"

    def call_id(self) -> str:
        return f"call_{next(_ids):024x}"

    def envelope(self, rid: str, created: int) -> dict[str, Any]:
        return {**super().envelope(rid, created), "service_tier": "default", "system_fingerprint": "fp_4a1d3b2c5e"}

    def deltas(self, turn: Turn) -> Iterator[dict[str, Any]]:
        first = True
        if turn.content or not turn.calls:
            yield {"role": "assistant", "content": "", "refusal": None}
            first = False
        for part in split(turn.content, turn.pieces):
            yield {"content": part}
        for index, (name, arguments) in enumerate(turn.calls):
            call = {
                "index": index,
                "id": self.call_id(),
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            yield (
                {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
                if first
                else {"tool_calls": [call]}
            )
            first = False
            for part in split(arguments, turn.pieces):
                yield {"tool_calls": [{"index": index, "function": {"arguments": part}}]}

    def message(self, turn: Turn, ids: list[str]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.content or None,
            "refusal": None,
            "annotations": [],
        }
        if turn.calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, (n, a) in zip(ids, turn.calls)
            ]
        return message

    def finish_body(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "service_tier": "default", "system_fingerprint": "fp_4a1d3b2c5e"}


def flavor(name: str, **options: Any) -> Flavor:
    """The wire format of a server by name: vllm, ollama or openai."""
    return {"vllm": VLLM, "ollama": Ollama, "openai": OpenAI}[name](**options)


Script = Turn | Reply | Callable[[dict[str, Any]], "Turn | Reply"]


class WireServer:
    """The fake server: `with WireServer(flavor) as url:`; `script` what it answers, `requests` what it got.

    Args:
        flavor: the wire format.
        api_key: when set, requests without `Authorization: Bearer <key>` get 401.
        prefix: the API root path (`/v1` for all three servers).
    """

    def __init__(self, flavor: Flavor, *, api_key: str | None = None, prefix: str = "/v1") -> None:
        self.flavor = flavor
        self.api_key = api_key
        self.prefix = prefix
        self.script: list[Script] = []
        self.requests: list[Request] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> str:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}{self.prefix}"
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake LLM server did not start")
        return self.url

    def __exit__(self, *exc: Any) -> None:
        loop = self._loop
        if loop is None:
            return

        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)

    # --- what was sent ------------------------------------------------------------------------

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat requests, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    # --- serving ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                request = await self._read(reader)
                if request is None:
                    break
                self.requests.append(request)
                reply = self._answer(request)
                if not await self._write(writer, reply):
                    break
        with contextlib.suppress(Exception):
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", 0) or 0))
        body = json.loads(raw) if raw else None
        return Request(method, path, headers, body)

    def _answer(self, request: Request) -> Reply:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.flavor.error(401, "Incorrect API key provided.")
        if request.method == "GET" and request.path == f"{self.prefix}/models":
            data = {"object": "list", "data": [{"id": self.flavor.model, "object": "model", "owned_by": "vidrag"}]}
            return Reply(headers={"content-type": "application/json"}, parts=[_compact(data)])
        if request.method != "POST" or request.path != f"{self.prefix}/chat/completions":
            return self.flavor.error(404, f"no route {request.method} {request.path}")
        check = getattr(self.flavor, "check", None)
        refused = check(request.body) if check else None
        if refused is not None:
            return refused
        if not self.script:
            return self.flavor.error(500, "the test script is exhausted")
        item = self.script.pop(0)
        if callable(item) and not isinstance(item, (Turn, Reply)):
            item = item(request.body)
        return item if isinstance(item, Reply) else self.flavor.reply(item, request.body)

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, reply: Reply) -> bool:
        """Send a reply; False when the connection was dropped on purpose."""
        if reply.stall:
            await asyncio.sleep(reply.stall)
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }.get(reply.status, "Error")
        headers = {"date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()), **reply.headers}
        if reply.chunked:
            headers["transfer-encoding"] = "chunked"
        else:
            headers["content-length"] = str(sum(len(p) for p in reply.parts))
        head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode("latin-1") + b"\r\n")
        for count, part in enumerate(reply.parts):
            if reply.drop_after is not None and count >= reply.drop_after:
                await writer.drain()
                writer.close()
                return False
            writer.write(b"%x\r\n%s\r\n" % (len(part), part) if reply.chunked else part)
            await writer.drain()
            if reply.pause:
                await asyncio.sleep(reply.pause)
        if reply.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
