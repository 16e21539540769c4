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
from typing import NotRequired, TypedDict

from vidrag.storage.types import JSON, Clip

DATA_OPEN = "<<video-data>>"
DATA_CLOSE = "<</video-data>>"
_MARKERS = re.compile(r"<</?\s*video-data\s*>>", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")
NO_CLIPS = "No clips matched; try other words, drop the filters, or call list_videos."
NO_SPEECH = "No speech in this span; try inspect_clip for what is on screen."
EMPTY_LIBRARY = "The library is empty; nothing can be answered from it."


def defuse(text: str) -> str:
    """Video text with any data markers inside it made harmless."""
    return _MARKERS.sub("[marker removed]", text or "")


def as_data(text: str) -> str:
    """Wrap untrusted text from a video between data markers (markers inside it are defused)."""
    return f"{DATA_OPEN}{defuse(text)}{DATA_CLOSE}"


# The JSON of each result, as its `to_dict` builds it: the types a type checker holds `to_dict` to and the
# MCP tool list's output schemas are generated from (`vidrag.api.mcp_tools.json_schema`).


class SpanJson(TypedDict):
    """A span as every tool reports it: the video's file name and id, start and end (seconds), citation tag."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str


class ClipJson(SpanJson):
    """A clip `search_clips` found: its span, score and stored text (data-marked)."""

    score: float
    text: str


class ClipSearchJson(TypedDict):
    """What `search_clips` returns."""

    query: str
    results: list[ClipJson]
    note: NotRequired[str]
    never_mentioned: NotRequired[list[str]]


class TimedLineJson(SpanJson):
    """A speech sentence or on-screen line (data-marked), its score when a question ranked it, and
    whether it is a running header."""

    score: NotRequired[float]
    text: str
    repeated: NotRequired[bool]


class TranscriptJson(SpanJson):
    """What `get_transcript` returns."""

    lines: list[TimedLineJson]
    note: NotRequired[str]


class ClipInspectionJson(SpanJson):
    """What `inspect_clip` returns."""

    caption: str
    transcript_lines: list[TimedLineJson]
    ocr_lines: list[TimedLineJson]


class VideoHitJson(SpanJson):
    """A video `find_videos` found: its span (the whole video), score and summary (data-marked)."""

    score: float
    summary: str


class VideoSearchJson(TypedDict):
    """What `find_videos` returns."""

    query: str
    results: list[VideoHitJson]


class VideoEntryJson(TypedDict):
    """A video as `list_videos` shows it."""

    video: str
    video_id: str
    duration: float
    clips: int
    language: str | None
    status: str
    summary: str


class VideoListJson(TypedDict):
    """What `list_videos` returns."""

    videos: list[VideoEntryJson]
    note: NotRequired[str]


class ClipFileJson(SpanJson):
    """What `cut_clip` returns: the span as cut and the mp4 it wrote."""

    path: str


class ToolErrorJson(TypedDict):
    """A failed tool call."""

    error: str


class TalkingHeadOutput(TypedDict):
    """What `generate_talking_head` reports: the mp4 (`video`), its JSON sidecar (`metadata`), and what the
    sidecar says of it (seconds, frames, size, seed, model ids, stage timings in seconds)."""

    video: str
    metadata: str
    seconds: float
    frames: int
    width: int
    height: int
    seed: int
    model_ids: dict[str, str]
    timings: dict[str, float | list[float]]


class JsonView(dict[str, JSON]):
    """A result with typed fields that is also, as the dict itself, its JSON (built once from the fields
    by `to_dict`, never changed after): what an LLM, an MCP client or a caller reading by key receives,
    so it serialises, compares and reads by key as a plain dict did. Subclasses are frozen dataclasses."""

    def __post_init__(self) -> None:
        self.update(self.to_dict())

    def to_dict(self) -> Mapping[str, JSON]:
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

    def to_dict(self) -> ClipJson:
        return {**_span(self), "score": self.score, "text": as_data(self.rendered)}


@dataclass(frozen=True, eq=False)
class ClipSearch(JsonView):
    """What `search_clips` found: the clips, best first, and the query's key words no clip says."""

    query: str
    clips: list[ClipEvidence] = field(default_factory=list)
    never_mentioned: list[str] = field(default_factory=list)

    def to_dict(self) -> ClipSearchJson:
        out: ClipSearchJson = {"query": self.query, "results": [clip.to_dict() for clip in self.clips]}
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
class TimedLine(JsonView):
    """One speech sentence or on-screen line with its span and citation tag; `text` as said or shown
    (not data-marked), `score` its similarity to a question (when asked one), `repeated` a running header."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    text: str
    score: float | None = None
    repeated: bool = False

    def to_dict(self) -> TimedLineJson:
        if self.score is None:
            out: TimedLineJson = {**_span(self), "text": as_data(self.text)}
        else:
            out = {**_span(self), "score": self.score, "text": as_data(self.text)}
        if self.repeated:
            out["repeated"] = True
        return out


@dataclass(frozen=True, eq=False)
class Transcript(JsonView):
    """What `get_transcript` read: the span asked for and its sentences, whole."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    lines: list[TimedLine] = field(default_factory=list)

    def to_dict(self) -> TranscriptJson:
        out: TranscriptJson = {**_span(self), "lines": [line.to_dict() for line in self.lines]}
        if not self.lines:
            out["note"] = NO_SPEECH
        return out


@dataclass(frozen=True, eq=False)
class ClipInspection(JsonView):
    """What `inspect_clip` saw in a span: the captioner's answer to the question, and the span's speech
    sentences and on-screen lines, each with its span, most relevant to the question first."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    caption: str
    speech: list[TimedLine] = field(default_factory=list)
    screen: list[TimedLine] = field(default_factory=list)

    def to_dict(self) -> ClipInspectionJson:
        return {
            **_span(self),
            "caption": as_data(self.caption),
            "transcript_lines": [line.to_dict() for line in self.speech],
            "ocr_lines": [line.to_dict() for line in self.screen],
        }


@dataclass(frozen=True, eq=False)
class VideoHit(JsonView):
    """A whole video `find_videos` found, by its summary."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    score: float
    summary: str

    def to_dict(self) -> VideoHitJson:
        return {**_span(self), "score": self.score, "summary": as_data(self.summary)}


@dataclass(frozen=True, eq=False)
class VideoSearch(JsonView):
    """What `find_videos` found: the videos whose summary matches the query, best first."""

    query: str
    videos: list[VideoHit] = field(default_factory=list)

    def to_dict(self) -> VideoSearchJson:
        return {"query": self.query, "results": [video.to_dict() for video in self.videos]}


@dataclass(frozen=True, eq=False)
class VideoEntry(JsonView):
    """A video of the library as `list_videos` shows it (`summary` cut to 400 characters)."""

    video: str
    video_id: str
    duration: float
    clips: int
    language: str | None
    status: str
    summary: str

    def to_dict(self) -> VideoEntryJson:
        return {
            "video": self.video,
            "video_id": self.video_id,
            "duration": self.duration,
            "clips": self.clips,
            "language": self.language,
            "status": self.status,
            "summary": as_data(self.summary),
        }


@dataclass(frozen=True, eq=False)
class VideoList(JsonView):
    """Every video of the library (`list_videos`)."""

    videos: list[VideoEntry] = field(default_factory=list)

    def to_dict(self) -> VideoListJson:
        out: VideoListJson = {"videos": [video.to_dict() for video in self.videos]}
        if not self.videos:
            out["note"] = EMPTY_LIBRARY
        return out


@dataclass(frozen=True, eq=False)
class ClipFile(JsonView):
    """A span `cut_clip` wrote to its own mp4 (`path`), the span as actually cut."""

    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    path: str

    def to_dict(self) -> ClipFileJson:
        return {**_span(self), "path": self.path}


@dataclass(frozen=True, eq=False)
class ToolError(JsonView):
    """A tool call that failed, worded for an LLM to act on."""

    error: str

    def to_dict(self) -> ToolErrorJson:
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


def _span(item: ClipEvidence | TimedLine | Transcript | ClipInspection | VideoHit | ClipFile) -> SpanJson:
    return {
        "video": item.video,
        "video_id": item.video_id,
        "start": item.start,
        "end": item.end,
        "cite_as": item.cite_as,
    }


__all__ = [
    "JSON",
    "DATA_CLOSE",
    "DATA_OPEN",
    "ClipEvidence",
    "ClipFile",
    "ClipInspection",
    "ClipSearch",
    "Line",
    "TimedLine",
    "ToolError",
    "JsonView",
    "ToolStep",
    "Transcript",
    "VideoEntry",
    "VideoHit",
    "VideoList",
    "VideoSearch",
    "as_data",
    "defuse",
    "running_lines",
]
