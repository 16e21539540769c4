"""What the tools hand up, as data: a clip's evidence, a transcript's lines, a tool step, a tool error.

The agent reads these fields (what a clip says, what it shows, its caption, each with its span) and
never text parsed back: the "Speech: …" / "On screen: …" labels exist only in the renderings for a
person or an LLM (`ClipEvidence.spoken_and_shown`, the JSON of `to_dict`). Each result is also the
dict of its `to_dict()`, the JSON an LLM or MCP client receives, so callers that read results by key
or serialise them keep working. `running_lines` is the one rule for a video's running headers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from vidrag.storage.types import Clip

JSON = object
"""A JSON value (what `to_dict` returns hold): typed as `object`, read by key only in tests."""

DATA_OPEN = "<<video-data>>"
DATA_CLOSE = "<</video-data>>"
_MARKERS = re.compile(r"<</?\s*video-data\s*>>", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")
NO_CLIPS = "No clips matched; try other words, drop the filters, or call list_videos."
NO_SPEECH = "No speech in this span; try inspect_clip for what is on screen."


def defuse(text: str) -> str:
    """Video text with any data markers inside it made harmless."""
    return _MARKERS.sub("[marker removed]", text or "")


def as_data(text: str) -> str:
    """Wrap untrusted text from a video between data markers (markers inside it are defused)."""
    return f"{DATA_OPEN}{defuse(text)}{DATA_CLOSE}"


class JsonView(dict[str, JSON]):
    """A result with typed fields that is also, as the dict itself, its JSON (built once from the fields
    by `to_dict`, never changed after): what an LLM, an MCP client or a caller reading by key receives,
    so it serialises, compares and reads by key as a plain dict did. Subclasses are frozen dataclasses."""

    def __post_init__(self) -> None:
        self.update(self.to_dict())

    def to_dict(self) -> dict[str, JSON]:
        raise NotImplementedError


@dataclass(frozen=True)
class Line:
    """One piece of a clip's evidence with its span: a speech sentence, an on-screen line or a caption."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, eq=False)
class ClipEvidence(JsonView):
    """A clip a search returned: its span (seconds, rounded to 0.01 as the tools report it), citation
    tag, score, and what it says, shows and looks like, as stored.

    Attributes:
        video: the video's file name.
        transcript: the words spoken in the clip.
        ocr: the clip's on-screen lines, one per line.
        caption: the captioner's description of the picture.
        rendered: the stored search text (caption, then the labelled speech and screen text), shown
            to an LLM; never read back.
    """

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    score: float = 0.0
    transcript: str = ""
    ocr: str = ""
    caption: str = ""
    rendered: str = ""

    @property
    def speech(self) -> list[Line]:
        """The clip's speech sentences, each with the clip's span (a clip's words carry no times)."""
        found = (s.strip() for s in _SENTENCE.findall(self.transcript))
        return [Line(self.start, self.end, sentence) for sentence in found if sentence]

    @property
    def screen(self) -> list[Line]:
        """The clip's on-screen lines, in reading order, each with the clip's span."""
        return [Line(self.start, self.end, line) for line in self.ocr.split("\n") if line.strip()]

    def spoken_and_shown(self) -> str:
        """Speech and on-screen text without the caption, labelled for an embedding (which says little
        about topics); the stored text when the clip has neither."""
        parts = [f"Speech: {self.transcript}"] if self.transcript else []
        if self.ocr:
            parts.append(f"On screen: {self.ocr}")
        return "\n".join(parts) or self.rendered

    def to_dict(self) -> dict[str, JSON]:
        return {**_span(self), "score": self.score, "text": as_data(self.rendered)}


@dataclass(frozen=True, eq=False)
class ClipSearch(JsonView):
    """What `search_clips` found: the clips, best first, and the query's key words no clip says."""

    query: str
    clips: list[ClipEvidence] = field(default_factory=list)
    never_mentioned: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"query": self.query, "results": [clip.to_dict() for clip in self.clips]}
        if not self.clips:
            out["note"] = NO_CLIPS
        if self.never_mentioned:
            out["never_mentioned"] = list(self.never_mentioned)
            out["note"] = (
                f"The library never says {', '.join(repr(w) for w in self.never_mentioned)} (in any form): these "
                "clips are the nearest moments, not an answer about it."
            )
        return out


@dataclass(frozen=True, eq=False)
class SpokenLine(JsonView):
    """One sentence of a transcript with its span and citation tag; `text` as spoken (not data-marked)."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    text: str

    def to_dict(self) -> dict[str, JSON]:
        return {**_span(self), "text": as_data(self.text)}


@dataclass(frozen=True, eq=False)
class Transcript(JsonView):
    """What `get_transcript` read: the span asked for and its sentences, whole."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    lines: list[SpokenLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {**_span(self), "lines": [line.to_dict() for line in self.lines]}
        if not self.lines:
            out["note"] = NO_SPEECH
        return out


@dataclass(frozen=True, eq=False)
class ToolError(JsonView):
    """A tool call that failed, worded for an LLM to act on."""

    error: str

    def to_dict(self) -> dict[str, JSON]:
        return {"error": self.error}


@dataclass(frozen=True)
class ToolStep:
    """One tool call of a run: the tool, its arguments by name, a one-line result and the seconds taken."""

    tool: str
    args: dict[str, JSON]
    result: str
    seconds: float

    def to_dict(self) -> dict[str, JSON]:
        return {"tool": self.tool, "args": dict(self.args), "result": self.result, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ToolStep:
        """A step from its JSON (what a stand-in answerer or a server sent); missing fields are empty."""
        args = data.get("args")
        seconds = data.get("seconds")
        return cls(
            tool=str(data.get("tool", "")),
            args=dict(args) if isinstance(args, Mapping) else {},
            result=str(data.get("result", "")),
            seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        )


def running_lines(clips: list[Clip]) -> set[str]:
    """A video's running headers: the on-screen lines on at least half of its clips (with three clips
    or more). The lecture title names the video, not the moment: it is evidence of the video's subject,
    never a quote of one moment."""
    if len(clips) < 3:
        return set()
    shown = Counter(line for clip in clips for line in set(clip.ocr.split("\n")))
    return {line for line, count in shown.items() if count >= len(clips) / 2}


def _span(item: ClipEvidence | SpokenLine | Transcript) -> dict[str, JSON]:
    return {
        "video": item.video,
        "video_id": item.video_id,
        "start": item.start,
        "end": item.end,
        "cite_as": item.cite_as,
    }


__all__ = [
    "DATA_CLOSE",
    "DATA_OPEN",
    "ClipEvidence",
    "ClipSearch",
    "Line",
    "SpokenLine",
    "ToolError",
    "JsonView",
    "ToolStep",
    "Transcript",
    "as_data",
    "defuse",
    "running_lines",
]
