"""The answer `answer_question` returns, as data: its text, whose words each part is, the checked
citations, how it was made (mode, tool steps, seconds) and the citation tags it lost.

`Answer` is also the dict of its JSON (`to_dict`), the shape the CLI's `--json`, the REST `/ask` and the
MCP `ask` tool print, so callers that read the answer by key or serialise it see what they always did.
A stand-in answerer (tests, a server's answer read back) may return that dict instead; `Answer.from_dict`
reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from vidrag.storage.types import Citation
from vidrag.tools.evidence import JSON, JsonView, ToolStep

Outcome = Literal["answered", "not_found", "absent"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "not_found", "absent")
Source = Literal["answer", "video"]
Answerer = Callable[..., "Answer | Mapping[str, object]"]
"""`answer_question` or a stand-in for it (tests), called as `(library, question, **options)`; a stand-in
may return the dict of an answer's JSON (`Answer.from_dict` reads it)."""


@dataclass(frozen=True, eq=False)
class AnswerPart(JsonView):
    """A piece of an answer and whose words it is: `video` for a quote of a video's text (untrusted
    data, never instructions), `answer` for vidrag's or its LLM's own words."""

    text: str
    source: Source

    def to_dict(self) -> dict[str, JSON]:
        return {"text": self.text, "source": self.source}


@dataclass(frozen=True, eq=False)
class Answer(JsonView):
    """A checked answer.

    Attributes:
        text: the answer, its citation tags checked (bad ones removed, with a note).
        outcome: "answered", "not_found" (nothing close enough) or "absent" (a key word of the question
            is never said in the library, or the measure it asks for is stated by none of the nearest
            moments; the citations are related moments, not an answer).
        parts: the text split into quotes of the videos and the answer's own words.
        answer_marked: the text with the video parts between `<<video-data>>` markers.
        citations: the cited moments that a tool returned in this run, each with its quote.
        mode: "extractive" or the LLM agent that answered ("llm:function", "llm:react").
        steps: the tool calls of the run.
        removed_citations: the tags the answer gave that no tool returned.
        seconds: how long answering took (None when an answerer did not say).
    """

    text: str
    outcome: Outcome = "answered"
    parts: list[AnswerPart] = field(default_factory=list)
    answer_marked: str = ""
    citations: list[Citation] = field(default_factory=list)
    mode: str = ""
    steps: list[ToolStep] = field(default_factory=list)
    removed_citations: list[str] = field(default_factory=list)
    seconds: float | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {
            "answer": self.text,
            "outcome": self.outcome,
            "parts": [part.to_dict() for part in self.parts],
            "answer_marked": self.answer_marked,
            "citations": [citation.to_dict() for citation in self.citations],
            "mode": self.mode,
            "steps": [step.to_dict() for step in self.steps],
            "removed_citations": list(self.removed_citations),
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Answer:
        """An answer from its JSON (a stand-in answerer's dict, a server's answer read back): what it
        leaves out is worked out as `answer_question` would (parts from the citations' quotes, the
        outcome from the text's opening)."""
        from vidrag.agent.provenance import answer_parts, marked

        text = str(data.get("answer", ""))
        citations = [_citation(item) for item in _items(data.get("citations"))]
        given = [part for part in _items(data.get("parts")) if isinstance(part, Mapping)]
        parts = (
            [AnswerPart(str(p.get("text", "")), "video" if p.get("source") == "video" else "answer") for p in given]
            if given
            else answer_parts(text, [c.quote for c in citations])
        )
        seconds = data.get("seconds")
        return cls(
            text=text,
            outcome=_outcome(data.get("outcome")) or outcome(text),
            parts=parts,
            answer_marked=str(data.get("answer_marked") or marked(parts)),
            citations=citations,
            mode=str(data.get("mode", "")),
            steps=[ToolStep.from_dict(step) for step in _items(data.get("steps")) if isinstance(step, Mapping)],
            removed_citations=[str(tag) for tag in _items(data.get("removed_citations"))],
            seconds=float(seconds) if isinstance(seconds, int | float | str) else None,
        )


def outcome(answer: str) -> Outcome:
    """ "not_found", "absent" (a key word never said, a measure never stated) or "answered", read from how the
    answer starts (the no-LLM plan's fixed openings; an LLM is told to say the same)."""
    from vidrag.agent.prompts import NEVER_MENTIONED, NOT_FOUND, NOT_STATED

    text = answer.lstrip()
    if text.startswith(NOT_FOUND):
        return "not_found"
    if text.startswith((NEVER_MENTIONED, NOT_STATED)):
        return "absent"
    return "answered"


def _outcome(value: object) -> Outcome | None:
    return next((known for known in OUTCOMES if known == value), None)


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _citation(item: object) -> Citation:
    """A citation from a `Citation` or its JSON."""
    if isinstance(item, Citation):
        return item
    data = item if isinstance(item, Mapping) else {}
    return Citation(
        video=str(data.get("video", "")),
        video_id=str(data.get("video_id", "")),
        start=float(data.get("start", 0.0)),
        end=float(data.get("end", 0.0)),
        quote=str(data.get("quote", "")),
    )


__all__ = ["Answer", "AnswerPart", "Answerer", "Outcome", "outcome"]
