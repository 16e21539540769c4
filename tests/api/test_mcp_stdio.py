"""MCP over stdio answers every line (issue #22, item 6): malformed ones with JSON-RPC errors.

In process, the checked transport runs the real server over in-memory lines; in its own process,
`run_stdio` (what `vidrag mcp` runs) reads real bytes from a pipe, invalid UTF-8 included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest

from tests.agent.tiny_library import TinyLibrary
from vidrag.api.mcp_server import build_server
from vidrag.api.mcp_stdio import checked_stdio_server

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
)
BAD_LINES = [
    ("not json", None, -32700),
    ('{"jsonrpc": "2.0", "id": 2, "method": "tools/list"', None, -32700),
    ("[1, 2]", None, -32600),
    ('[{"jsonrpc": "2.0", "id": 3, "method": "tools/list"}]', None, -32600),
    ('"a string"', None, -32600),
    ("42", None, -32600),
    ('{"jsonrpc": "2.0", "id": 4}', 4, -32600),
    ('{"jsonrpc": "2.0", "id": "five", "params": {}}', "five", -32600),
    ('{"id": 6, "method": "tools/list"}', 6, -32600),
]
CALL_NAN = (
    '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "search_clips", '
    '"arguments": {"query": "tcp", "start": NaN}}}'
)
LIST = '{"jsonrpc": "2.0", "id": 8, "method": "tools/list"}'


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __aiter__(self):
        return self._each()

    async def _each(self):
        for line in self.lines:
            yield line + "\n"
            await anyio.sleep(0.01)


class _Out:
    def __init__(self) -> None:
        self.text = ""

    async def write(self, text: str) -> None:
        self.text += text

    async def flush(self) -> None:
        pass


def answers(text: str) -> dict:
    """Answers by id (None for those without one, in order)."""
    by_id: dict = {}
    for line in text.splitlines():
        message = json.loads(line)
        by_id.setdefault(message.get("id"), []).append(message)
    return by_id


def test_malformed_lines_get_json_rpc_errors_and_the_server_goes_on(tmp_path):
    tiny = TinyLibrary(tmp_path)
    out = _Out()

    async def main() -> None:
        server = build_server(tiny)
        lines = [INITIALIZE, *(line for line, _, _ in BAD_LINES), CALL_NAN, LIST]
        async with checked_stdio_server(stdin=_Lines(lines), stdout=out) as (read, write):
            with anyio.move_on_after(20):
                await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
    tiny.close()
    got = answers(out.text)
    anonymous = [m["error"]["code"] for m in got.get(None, [])]
    assert anonymous == [code for _, request_id, code in BAD_LINES if request_id is None]
    for _, request_id, code in BAD_LINES:
        if request_id is not None:
            assert got[request_id][0]["error"]["code"] == code, got[request_id]
    nan = got[7][0]["result"]
    assert nan["isError"] and "start: must be a finite number" in nan["content"][0]["text"]
    assert [tool["name"] for tool in got[8][0]["result"]["tools"]][:2] == ["search_clips", "find_videos"]


@pytest.mark.slow  # a process that imports the MCP SDK and llama-index: a few seconds
def test_run_stdio_answers_bad_bytes_from_a_real_pipe(tmp_path):
    script = (
        "import sys, tempfile\n"
        "from tests.agent.tiny_library import TinyLibrary\n"
        "from vidrag.api.mcp_server import run_stdio\n"
        "run_stdio(TinyLibrary(tempfile.mkdtemp()))\n"
    )
    feed = b"\n".join([INITIALIZE.encode(), b"\xff\xfe not utf-8", b"{oops", LIST.encode()]) + b"\n"
    server = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(feed)
    server.stdin.flush()  # stdin stays open, as a client's does, until every line is answered
    lines = []
    watchdog = threading.Timer(90, server.kill)  # a silent server must not hang the suite
    watchdog.start()
    try:
        for _ in range(4):  # initialize, two parse errors, tools/list
            lines.append(server.stdout.readline().decode())
    finally:
        watchdog.cancel()
        server.stdin.close()
        server.wait(60)
    got = answers("".join(lines))
    assert [m["error"]["code"] for m in got[None]] == [-32700, -32700], lines
    assert "not valid UTF-8" in got[None][0]["error"]["message"]
    assert got[8][0]["result"]["tools"], lines
