"""REST and MCP render the agent's `Answer` and `Citation`: their schemas say what the models hold, and a
stand-in answerer's dict renders as the typed answer it describes."""

from __future__ import annotations

import dataclasses
import typing

from vidrag.agent.answer import OUTCOMES, Answer, AnswerPart
from vidrag.api.mcp_tools import ASK, ask_result, output_schema
from vidrag.api.routers.ask import answer_out
from vidrag.api.schemas import AnswerPartOut, AskOut, CitationOut
from vidrag.storage.types import Citation
from vidrag.tools.evidence import ToolStep

CITATION = Citation("talk.mp4", "abc", 1.0, 2.5, "they shake hands")
ANSWER = Answer(
    text="talk.mp4 says: \u201cthey shake hands\u201d [talk.mp4 @ 00:01.0\u201300:02.5]",
    outcome="answered",
    parts=[AnswerPart("talk.mp4 says: ", "answer"), AnswerPart("\u201cthey shake hands\u201d", "video")],
    answer_marked="talk.mp4 says: <<video-data>>\u201cthey shake hands\u201d<</video-data>>",
    citations=[CITATION],
    mode="extractive",
    steps=[ToolStep("search_clips", {"query": "handshake", "k": 8}, "1 results", 0.01)],
    removed_citations=[],
    seconds=0.2,
)


def test_the_rest_models_hold_every_field_of_the_answer_and_citation():
    assert set(ANSWER.to_dict()) <= set(AskOut.model_fields)
    assert {f.name for f in dataclasses.fields(Citation)} <= set(CitationOut.model_fields)
    assert {f.name for f in dataclasses.fields(AnswerPart)} == set(AnswerPartOut.model_fields)
    assert typing.get_args(AskOut.model_fields["outcome"].annotation) == OUTCOMES


def test_the_mcp_ask_schema_is_the_answer_and_citation_models():
    schema = output_schema(ASK)
    assert set(schema["properties"]) <= set(ANSWER.to_dict())
    assert list(schema["properties"]["citations"]["items"]["properties"]) == list(CITATION.to_dict())
    assert schema["properties"]["outcome"]["enum"] == list(OUTCOMES)


def test_rest_and_mcp_render_the_answer_and_its_json_alike():
    out = answer_out(ANSWER, "s1")
    assert out.answer == ANSWER.text and out.outcome == "answered" and out.session_id == "s1"
    assert [(c.video_id, c.start, c.end, c.quote) for c in out.citations] == [("abc", 1.0, 2.5, "they shake hands")]
    assert out.citations[0].media_url == "/videos/abc/media#t=1.00,2.50"
    assert out.steps == [ANSWER.steps[0].to_dict()] and out.seconds == 0.2
    assert answer_out(dict(ANSWER), "s1") == out  # the dict an answerer may return instead
    assert (
        ask_result(ANSWER)
        == ask_result(dict(ANSWER))
        == {
            "answer": ANSWER.text,
            "citations": [CITATION.to_dict()],
            "mode": "extractive",
            "outcome": "answered",
            "seconds": 0.2,
        }
    )


def test_an_answer_is_the_dict_of_its_json():
    assert ANSWER == ANSWER.to_dict() and ANSWER["citations"] == [CITATION.to_dict()]
    assert Answer.from_dict(ANSWER.to_dict()).to_dict() == ANSWER.to_dict()
