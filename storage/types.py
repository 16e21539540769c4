"""Value types shared by every layer. Time is float seconds in source time everywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

JSON = object
"""A JSON value (what a `to_dict` holds, a job's params): typed as `object`, so a reader checks what it reads."""


def clock(seconds: float, *, tenths: bool = True) -> str:
    """A time for people and citation tags: mm:ss.s, or mm:ss without tenths; h:mm:ss.s past an hour."""
    if not tenths:
        seconds = round(seconds)
    minutes, secs = divmod(max(0.0, float(seconds)), 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:04.1f}" if tenths else f"{int(secs):02d}"
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes:02d}:{text}"


@dataclass
class Clip:
    """One temporal clip of a video and the text that makes it searchable."""

    video_id: str
    video: str
    index: int
    start: float
    end: float
    transcript: str = ""
    ocr: str = ""
    caption: str = ""
    caption_fields: dict[str, str] = field(default_factory=dict)
    kind: str = "clip"

    @property
    def duration(self) -> float:
        return self.end - self.start

    def text(self, caption: bool = True) -> str:
        """Caption, speech and on-screen text, each labelled (the caption only if `caption`)."""
        parts = []
        if caption and self.caption:
            parts.append(self.caption)
        if self.transcript:
            parts.append(f"Speech: {self.transcript}")
        if self.ocr:
            parts.append(f"On screen: {self.ocr}")
        return "\n".join(parts)

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text()
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Clip:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


@dataclass
class Hit:
    """A search result: a clip (or a whole-video summary) with its score."""

    video_id: str
    video: str
    start: float
    end: float
    score: float
    text: str
    transcript: str = ""
    ocr: str = ""
    caption: str = ""
    kind: str = "clip"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CitationJson(TypedDict):
    """A citation as JSON (`Citation.to_dict`): what the answers, the MCP `ask` tool and session files hold."""

    video: str
    video_id: str
    start: float
    end: float
    quote: str


@dataclass
class Citation:
    """A cited moment: a span of a video that a tool returned, with the evidence quoted."""

    video: str
    video_id: str
    start: float
    end: float
    quote: str = ""

    def to_dict(self) -> CitationJson:
        return CitationJson(video=self.video, video_id=self.video_id, start=self.start, end=self.end, quote=self.quote)


@dataclass
class VideoRecord:
    """A row of the catalog: one video file and the state of its ingestion."""

    id: str
    path: str
    size: int = 0
    mtime: float = 0.0
    duration: float = 0.0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    has_audio: bool = False
    language: str | None = None
    status: str = "pending"
    clip_count: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    summary: str = ""
    cuts: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # content the models lost (e.g. unread speech)
    settings_key: str = ""
    updated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
