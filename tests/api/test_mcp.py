"""The MCP server as MCP clients meet it: the SDK's client in process, over stdio and over HTTP.

In process and over HTTP it serves the two-video `TinyLibrary`; over stdio it is `vidrag mcp` in its
own process on a copy of the ingested sample library.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.agent.tiny_library import TinyLibrary
from tests.api.conftest import serve
from vidrag.agent.llm_agent import llama_tools
from vidrag.api.mcp_server import build_server
from vidrag.tools.video_tools import DATA_CLOSE, DATA_OPEN, VideoTools

TOOLS = ["search_clips", "find_videos", "inspect_clip", "get_transcript", "list_videos", "cut_clip"]


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def tiny(tmp_path):
    library = TinyLibrary(tmp_path)
    yield library
    library.close()


async def _search(client: Client, query: str, **arguments) -> dict:
    result = await client.call_tool("search_clips", {"query": query, **arguments})
    assert not result.is_error, result.content
    data = json.loads(result.content[0].text)
    assert result.structured_content == data
    return data


def test_tools_are_the_agents_with_the_same_schemas(tiny):
    async def listing():
        async with Client(build_server(tiny)) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in run(listing())}
    agent = {tool.metadata.name: tool.metadata for tool in llama_tools(VideoTools(tiny))}
    assert list(tools) == list(agent) and TOOLS == list(tools)[:6]
    for name, meta in agent.items():
        assert tools[name].input_schema == meta.get_parameters_dict()
        assert tools[name].description == meta.description
    assert tools["search_clips"].input_schema["required"] == ["query"]
    assert tools["search_clips"].input_schema["properties"]["k"] == {"default": 5, "title": "K", "type": "integer"}


def test_a_search_returns_cited_spans_with_the_video_text_delimited(tiny):
    async def call():
        async with Client(build_server(tiny)) as client:
            return await _search(client, "three-way handshake", k=2)

    top = run(call())["results"][0]
    assert (top["video"], top["start"], top["end"]) == ("tcp_networking.mp4", 0.0, 9.0)
    assert top["cite_as"] == "[tcp_networking.mp4 @ 00:00.0–00:09.0]"
    assert (
        top["text"] == f"{DATA_OPEN}A TCP connection opens with a three-way handshake: SYN, SYN-ACK, ACK.{DATA_CLOSE}"
    )


def test_unknown_tools_and_bad_arguments_get_clear_errors(tiny):
    async def calls():
        async with Client(build_server(tiny)) as client:
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("delete_everything", {})
            bad = await client.call_tool("search_clips", {"query": "crust", "k": "many", "colour": "red"})
            missing = await client.call_tool("get_transcript", {})
            no_video = await client.call_tool("get_transcript", {"video": "holiday.mp4"})
            return unknown.value, bad, missing, no_video

    unknown, bad, missing, no_video = run(calls())
    assert unknown.message.startswith("Unknown tool 'delete_everything'; the tools are search_clips, find_videos")
    assert bad.is_error and json.loads(bad.content[0].text) == {
        "error": (
            "Bad arguments for search_clips: colour: no such parameter; k: Input should be a valid integer, unable "
            "to parse string as an integer. Its parameters are ['query', 'video', 'start', 'end', 'k']."
        )
    }
    assert missing.is_error and "video: Field required" in missing.content[0].text
    assert no_video.is_error
    assert no_video.structured_content == {"error": "Unknown video 'holiday.mp4'; call list_videos to see the library."}
    assert not any("Traceback" in r.content[0].text for r in (bad, missing, no_video))


def test_http_needs_the_api_key_then_serves_the_tools(tiny):
    import httpx2

    from vidrag.api.app import ApiSettings, create_app

    settings = ApiSettings(home=tiny.home, api_key="s3cret", host="127.0.0.1", llm_url=None, cors_origins=[])
    app = create_app(settings, library=tiny)
    with serve(app) as base:
        refused = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        wrong = httpx.post(f"{base}/mcp", headers={"X-API-Key": "guess"}, json={})

        async def call():
            async with httpx2.AsyncClient(headers={"X-API-Key": "s3cret"}) as http:
                from mcp.client.streamable_http import streamable_http_client

                async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                    names = [tool.name for tool in (await client.list_tools()).tools]
                    return names, await _search(client, "steam for a crisp crust", k=1)

        names, found = run(call())
    assert refused.status_code == 401 and wrong.status_code == 401
    assert refused.json() == {"detail": "missing or invalid API key"}
    assert names[:6] == TOOLS
    hit = found["results"][0]
    assert (hit["video"], hit["start"], hit["end"]) == ("baking_bread.mp4", 16.0, 24.0)
    assert hit["cite_as"] == "[baking_bread.mp4 @ 00:16.0–00:24.0]"


def test_vidrag_mcp_over_stdio_on_the_sample_library(sample_home, sample_dir, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)  # the embedded store admits one process per folder
    qa = json.loads((sample_dir / "sample_qa.jsonl").read_text().splitlines()[0])
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vidrag.api.cli", "mcp"],
        env={**os.environ, "VIDRAG_HOME": str(home), "HF_HUB_OFFLINE": "1"},
        cwd=str(tmp_path),
    )

    async def session():
        async with Client(server, read_timeout_seconds=120) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            found = await _search(client, qa["question"], k=3)
            top = found["results"][0]
            lines = await client.call_tool(
                "get_transcript", {"video": top["video"], "start": top["start"], "end": top["end"]}
            )
            return names, found, json.loads(lines.content[0].text)

    names, found, transcript = run(session())
    assert names[:6] == TOOLS
    top = found["results"][0]
    assert top["video"] == qa["video"] and top["start"] < qa["end"] and top["end"] > qa["start"]
    assert top["cite_as"].startswith(f"[{qa['video']} @ ") and top["text"].startswith(DATA_OPEN)
    assert transcript["lines"] and all(line["text"].startswith(DATA_OPEN) for line in transcript["lines"])
    assert Path(transcript["video"]).name == qa["video"]
