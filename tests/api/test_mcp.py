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


def test_tools_are_the_agents_described_for_mcp(tiny):
    async def listing():
        async with Client(build_server(tiny)) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in run(listing())}
    agent = {tool.metadata.name: tool.metadata for tool in llama_tools(VideoTools(tiny))}
    assert list(tools) == [*agent, "ask"] and TOOLS == list(tools)[:6]
    for name, meta in agent.items():
        schema = tools[name].input_schema
        assert list(schema["properties"]) == list(meta.get_parameters_dict()["properties"])
        assert schema.get("required", []) == meta.get_parameters_dict().get("required", [])
        assert all(prop.get("description") for prop in schema["properties"].values()), name
        assert not tools[name].description.startswith(f"{name}("), "no Python signature"
        assert "Args:" not in tools[name].description and "Returns:" not in tools[name].description
        assert tools[name].output_schema["type"] == "object"
    search = tools["search_clips"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"] == {
        "default": 5,
        "type": "integer",
        "description": "How many clips to return (1-20).",
        "minimum": 1,
        "maximum": 20,
    }
    assert search["properties"]["query"]["minLength"] == 1
    read_only = {name for name, tool in tools.items() if tool.annotations and tool.annotations.read_only_hint}
    assert read_only == {"search_clips", "find_videos", "inspect_clip", "get_transcript", "list_videos", "ask"}
    assert tools["cut_clip"].annotations.destructive_hint is False
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["ask"].output_schema["required"] == ["answer", "citations", "mode"]


def test_ask_answers_with_citations_in_its_output_schema(tiny):
    async def call():
        async with Client(build_server(tiny)) as client:
            await client.list_tools()  # the client checks structured results against the listed schemas
            good = await client.call_tool("ask", {"question": "How does a TCP connection open?"})
            empty = await client.call_tool("ask", {"question": "  "})
            many = await client.call_tool("ask", {"question": "bread?", "top_k": 99})
            return good, empty, many

    good, empty, many = run(call())
    assert not good.is_error
    assert "three-way handshake" in good.structured_content["answer"]
    [citation] = {c["video"]: c for c in good.structured_content["citations"]}.values()
    assert (citation["video"], citation["start"], citation["end"]) == ("tcp_networking.mp4", 0.0, 9.0)
    assert good.structured_content["mode"] == "extractive"
    assert empty.is_error and "question: must not be empty" in empty.content[0].text
    assert many.is_error and "top_k: must be between 1 and 20, got 99" in many.content[0].text


def test_videos_are_resources_with_their_clips(tiny):
    async def read():
        async with Client(build_server(tiny)) as client:
            listed = (await client.list_resources()).resources
            templates = (await client.list_resource_templates()).resource_templates
            first = await client.read_resource(listed[0].uri)
            with pytest.raises(MCPError) as unknown:
                await client.read_resource("vidrag://videos/nope")
            return listed, templates, first, unknown.value

    listed, templates, first, unknown = run(read())
    assert [(r.name, str(r.uri)) for r in listed] == [
        ("baking_bread.mp4", "vidrag://videos/vid0000000000000"),
        ("tcp_networking.mp4", "vidrag://videos/vid1000000000000"),
    ]
    assert templates[0].uri_template == "vidrag://videos/{video_id}"
    data = json.loads(first.contents[0].text)
    assert data["video"] == "baking_bread.mp4" and data["summary"].startswith("How to bake bread")
    assert data["clips"][0] == {
        "start": 0.0,
        "end": 8.0,
        "transcript": "Mix flour, water, salt and yeast into a shaggy dough.",
        "ocr": data["clips"][0]["ocr"],
        "caption": data["clips"][0]["caption"],
    }
    assert "nope" in unknown.message


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
    assert unknown.message.endswith(", ask.")
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

        bearer = httpx.get(f"{base}/videos", headers={"Authorization": "Bearer s3cret"})
        wrong_bearer = httpx.get(f"{base}/videos", headers={"Authorization": "Bearer guess"})

        async def call():
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}) as bearer_http:
                from mcp.client.streamable_http import streamable_http_client

                async with Client(streamable_http_client(f"{base}/mcp", http_client=bearer_http)) as client:
                    assert (await client.list_tools()).tools
            async with httpx2.AsyncClient(headers={"X-API-Key": "s3cret"}) as http:
                from mcp.client.streamable_http import streamable_http_client

                async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                    names = [tool.name for tool in (await client.list_tools()).tools]
                    return names, await _search(client, "steam for a crisp crust", k=1)

        names, found = run(call())
    assert refused.status_code == 401 and wrong.status_code == 401
    assert bearer.status_code == 200 and wrong_bearer.status_code == 401
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
