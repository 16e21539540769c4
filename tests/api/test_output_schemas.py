"""Each MCP tool's output schema is generated from the type its result's `to_dict` returns, and what a
call returns fits it exactly: every key it sends is declared, every required key is sent, each value has
its declared type (checked with `additionalProperties: false` added to every object)."""

from __future__ import annotations

import copy
import typing
from pathlib import Path

import jsonschema
import pytest

from tests.agent.tiny_library import TinyLibrary
from vidrag.api import mcp_tools
from vidrag.api.mcp_server import VidragTools
from vidrag.tools.evidence import ClipSearch, TalkingHeadOutput, VideoList


class _Captioner:
    fps, max_side = 1.0, 64

    def ask(self, frames: object, question: str) -> str:
        return f"a person answering {question!r}"


def _cut(key: str, start: float, end: float, out: str | Path) -> Path:
    Path(out).write_bytes(b"mp4")
    return Path(out)


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> VidragTools:
    library = TinyLibrary(tmp_path_factory.mktemp("tiny"), captioner=_Captioner())
    library.cut = _cut  # type: ignore[attr-defined]  # the tiny library has no media to cut
    return VidragTools(library)  # type: ignore[arg-type]


def _strict(schema: dict) -> dict:
    """The schema with no undeclared keys allowed in any of its objects."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


CALLS = [
    ("search_clips", {"query": "three-way handshake"}),
    ("search_clips", {"query": "zeppelin handshake"}),  # a word no video says: note and never_mentioned
    ("find_videos", {"query": "bread"}),
    ("inspect_clip", {"video": "tcp_networking.mp4", "start": 0, "end": 9, "question": "who speaks?"}),
    ("get_transcript", {"video": "tcp_networking.mp4"}),
    ("get_transcript", {"video": "tcp_networking.mp4", "start": 9000, "end": 9001}),
    ("list_videos", {}),
    ("cut_clip", {"video": "tcp_networking.mp4", "start": 0, "end": 4}),
    ("ask", {"question": "How does a TCP connection open?"}),
]


@pytest.mark.parametrize("base_url", [None, "http://127.0.0.1:8000"], ids=["stdio", "http"])
@pytest.mark.parametrize(("name", "arguments"), CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CALLS)])
def test_what_a_call_returns_fits_the_listed_output_schema(tools, name, arguments, base_url):
    listed = {tool.name: tool.output_schema for tool in tools.listing()}
    result = tools.call(name, arguments, base_url)
    assert not result.is_error, result.content
    jsonschema.validate(result.structured_content, _strict(listed[name]))


def test_each_call_above_sends_its_optional_keys_somewhere(tools):
    """The calls above cover the optional keys too, so the schema check sees them."""
    sent = [tools.call(name, arguments).structured_content for name, arguments in CALLS]
    assert any("never_mentioned" in data and "note" in data for data in sent)
    assert any("score" in line for data in sent for line in data.get("transcript_lines", []))
    assert any(data.get("lines") == [] and "note" in data for data in sent)


@pytest.mark.parametrize(
    ("name", "result"),
    [("search_clips", ClipSearch("bread")), ("list_videos", VideoList())],
    ids=["no-clips", "empty-library"],
)
def test_empty_results_fit_too(name, result):
    assert "note" in result
    jsonschema.validate(dict(result), _strict(mcp_tools.output_schema(name)))


def test_the_schemas_come_from_the_result_types():
    search = mcp_tools.output_schema("search_clips")
    assert search == mcp_tools.json_schema(typing.get_type_hints(ClipSearch.to_dict)["return"])
    cut = mcp_tools.output_schema("cut_clip")
    assert "path" in cut["properties"] and "url" in cut["properties"] and "path" not in cut["required"]
    talking = mcp_tools.output_schema("generate_talking_head")
    assert list(talking["properties"]) == [*TalkingHeadOutput.__annotations__, "url"]
    assert talking["required"] == list(TalkingHeadOutput.__annotations__)
