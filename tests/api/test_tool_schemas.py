"""Each tool's parameter schema, as the agent's LLM and an MCP client see it, agrees with the tool
method it calls: the same names in order, the required ones, types, defaults, stated bounds and the
descriptions of the docstring's Args section."""

from __future__ import annotations

import asyncio
import inspect
import re
from typing import Any, get_type_hints

import pytest
from mcp import Client
from pydantic import TypeAdapter

from tests.agent.tiny_library import TinyLibrary
from vidrag.agent.llm_agent import llama_tools
from vidrag.api.mcp_server import build_server
from vidrag.tools.video_tools import VideoTools

TOOLS = ["search_clips", "find_videos", "inspect_clip", "get_transcript", "list_videos", "cut_clip"]
BOUNDS = {"minimum", "maximum", "minLength", "maxLength"}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The tool methods, the agent's parameter schemas and the MCP input schemas, by tool name."""
    library = TinyLibrary(tmp_path_factory.mktemp("tiny"))
    tools = VideoTools(library)

    async def listing():
        async with Client(build_server(library)) as client:
            return (await client.list_tools()).tools

    try:
        methods = {name: getattr(tools, name) for name in [*TOOLS, "generate_talking_head"]}
        agent = {tool.metadata.name: tool.metadata.get_parameters_dict() for tool in llama_tools(tools)}
        mcp = {tool.name: tool.input_schema for tool in asyncio.run(listing())}
    finally:
        library.close()
    return methods, agent, mcp


def _documented(doc: str, name: str) -> str:
    """The docstring's description of parameter `name` (its Args line, first letter capitalised)."""
    line = re.search(rf"^\s+{name}: (.+)$", doc, re.M)
    assert line, f"{name} is not described in the docstring"
    return line.group(1)[0].upper() + line.group(1)[1:]


@pytest.mark.parametrize("name", [*TOOLS, "generate_talking_head"])
def test_the_agent_schema_is_the_signature_with_its_docs(schemas, name):
    methods, agent, _ = schemas
    assert name in agent, f"{name} is not offered to the agent (the talking-head package ships with vidrag)"
    method, schema = methods[name], agent[name]
    params = inspect.signature(method).parameters
    hints = get_type_hints(method, include_extras=True)
    assert list(schema["properties"]) == list(params)
    assert schema.get("required", []) == [p for p, param in params.items() if param.default is param.empty]
    for pname, param in params.items():
        prop = dict(schema["properties"][pname])
        assert prop.pop("description") == _documented(method.__doc__, pname)
        prop.pop("title")
        if param.default is not param.empty:
            assert prop.pop("default") == param.default
        assert prop == TypeAdapter(hints[pname]).json_schema(), pname  # type and bounds


def test_the_bounds_are_stated_on_every_text_and_number_the_client_sends(schemas):
    _, agent, _ = schemas
    for name, schema in agent.items():
        for pname, prop in schema["properties"].items():
            options = [prop, *prop.get("anyOf", [])]
            if pname != "image":  # a file path, checked against the allowed roots instead
                assert any(BOUNDS & set(option) for option in options), (name, pname)


def test_mcp_lists_the_agent_schemas_without_titles(schemas):
    _, agent, mcp = schemas
    for name, schema in agent.items():
        untitled = {p: {k: v for k, v in prop.items() if k != "title"} for p, prop in schema["properties"].items()}
        assert mcp[name] == {**schema, "properties": untitled}


def test_a_step_records_the_arguments_by_name(tmp_path):
    library = TinyLibrary(tmp_path)
    try:
        tools = VideoTools(library)
        tools.search_clips("three-way handshake", None, k=1)
        tools.get_transcript(video="tcp_networking.mp4", start=0.0)
    finally:
        library.close()
    assert [step.args for step in tools.steps] == [
        {"query": "three-way handshake", "video": None, "k": 1},
        {"video": "tcp_networking.mp4", "start": 0.0},
    ]
