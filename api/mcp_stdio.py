"""MCP over stdio where every line gets an answer: malformed lines are answered with JSON-RPC errors.

The SDK's stdio transport hands a line it cannot parse to the server as an exception, which logs it
and answers nothing, so a client that sent bad JSON waits forever. `checked_stdio_server` reads the
lines first: invalid UTF-8 or JSON is answered with -32700 (parse error), and a batch, a non-object
or an object that is no JSON-RPC message (a request without `method`, …) with -32600 (invalid
request) and the line's `id` when it has a usable one. Well-formed lines go on to the SDK unchanged.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from io import TextIOWrapper
from typing import TYPE_CHECKING

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from mcp.shared._stream_protocols import ReadStream, WriteStream


def line_problem(line: str) -> types.JSONRPCError | None:
    """The JSON-RPC error that answers a malformed line, or None for a well-formed message."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates (surrogateescape)
        return _error(None, types.PARSE_ERROR, "Parse error: the line is not valid UTF-8.")
    try:
        data = json.loads(line)
    except ValueError as err:
        return _error(None, types.PARSE_ERROR, f"Parse error: the line is not valid JSON ({err}).")
    if isinstance(data, list):
        return _error(
            None, types.INVALID_REQUEST, "Invalid request: batches are not supported; send one message a line."
        )
    if not isinstance(data, dict):
        return _error(None, types.INVALID_REQUEST, "Invalid request: a message must be a JSON object.")
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError as err:
        request_id = data.get("id")
        usable = request_id if isinstance(request_id, str) or type(request_id) is int else None
        what = "it has no method" if "method" not in data and "result" not in data and "error" not in data else err
        return _error(usable, types.INVALID_REQUEST, f"Invalid request: not a JSON-RPC 2.0 message ({what}).")
    return None


def _error(request_id: str | int | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message[:500]))


class _CheckedLines:
    """The lines of a text stream that are well-formed messages; the others are answered on `answer`."""

    def __init__(self, source: AsyncIterable[str]) -> None:
        self.source = source
        self.answer: WriteStream[SessionMessage] | None = None
        self.ready = anyio.Event()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for line in self.source:
            if not line.strip():
                continue
            problem = line_problem(line.rstrip("\r\n"))
            if problem is None:
                yield line
                continue
            await self.ready.wait()
            if self.answer is not None:  # set before `ready`
                await self.answer.send(SessionMessage(problem))


@asynccontextmanager
async def checked_stdio_server(
    stdin: anyio.AsyncFile[str] | None = None, stdout: anyio.AsyncFile[str] | None = None
) -> AsyncIterator[tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]]:
    """`mcp.server.stdio.stdio_server` with malformed lines answered (see the module's docstring)."""
    if stdin is None:  # bytes that are not UTF-8 arrive as surrogates, which `line_problem` answers
        stdin = anyio.wrap_file(TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape"))
    lines = _CheckedLines(stdin)
    async with stdio_server(stdin=lines, stdout=stdout) as (read, write):  # type: ignore[arg-type]
        lines.answer = write
        lines.ready.set()
        yield read, write
