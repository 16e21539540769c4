"""A two-video library in memory with the `Library` methods the agent's tools call, for fast agent tests.

Search scores clips by shared words; transcripts, on-screen text and frames are fixed; the embedder
is a bag-of-letters vector. The optional `captioner` is what `inspect_clip` re-asks (e.g. an
`OpenAICaptioner` pointed at a fake server).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from vidrag.indexing.asr import Segment
from vidrag.indexing.captioners.base import ClipFrames
from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import NotFound
from vidrag.storage.jobs import JobStore
from vidrag.storage.types import Clip, Hit, VideoRecord

CLIPS = {
    "baking_bread.mp4": [
        (0.0, 8.0, "Mix flour, water, salt and yeast into a shaggy dough.", "BREAD 101"),
        (8.0, 16.0, "Knead the dough for ten minutes until it is smooth and elastic.", "KNEADING"),
        (16.0, 24.0, "A tray of water in the oven makes steam, which gives a crisp shiny crust.", "CRUST"),
    ],
    "tcp_networking.mp4": [
        (0.0, 9.0, "A TCP connection opens with a three-way handshake: SYN, SYN-ACK, ACK.", "HANDSHAKE"),
        (9.0, 18.0, "Lost segments are retransmitted after a timeout.", "RETRANSMISSION"),
    ],
}
SUMMARIES = {
    "baking_bread.mp4": "How to bake bread: dough, kneading, steam for the crust.",
    "tcp_networking.mp4": "How TCP opens connections and recovers lost segments.",
}


class _Embedder:
    def dense(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [text.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"]
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out


class TinyLibrary:
    """Two short videos, searchable by shared words; an empty SQLite catalog under `home` for sessions and jobs."""

    def __init__(self, home: str | Path, captioner: Any = None) -> None:
        self.home = Path(home)
        self.catalog = Catalog(self.home / "catalog.sqlite")
        self.jobs = JobStore(self.catalog)  # API jobs; sessions go under data_dir
        self.captioner = captioner
        self.embedder = _Embedder()
        self.records = {
            name: VideoRecord(
                id=f"vid{i}" + "0" * 12,
                path=f"/videos/{name}",
                duration=clips[-1][1],
                status="indexed",
                clip_count=len(clips),
                language="en",
                summary=SUMMARIES[name],
            )
            for i, (name, clips) in enumerate(CLIPS.items())
        }

    @property
    def data_dir(self) -> Path:
        return self.home

    def videos(self) -> list[VideoRecord]:
        return list(self.records.values())

    def video(self, key: str) -> VideoRecord:
        for name, record in self.records.items():
            if key in (name, record.id, record.path):
                return record
        raise NotFound(f"No video {key!r}; run `vidrag videos` to list them.")

    def clips(self, key: str) -> list[Clip]:
        record = self.video(key)
        name = Path(record.path).name
        return [
            Clip(record.id, record.path, i, s, e, transcript=t, ocr=o) for i, (s, e, t, o) in enumerate(CLIPS[name])
        ]

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        video: Any = None,
        start: float | None = None,
        end: float | None = None,
        mode: str | None = None,
        kind: str = "clip",
    ) -> list[Hit]:
        words = set(re.findall(r"\w+", query.lower()))
        hits = []
        for name, record in self.records.items():
            if kind == "video":
                score = len(words & set(re.findall(r"\w+", SUMMARIES[name].lower())))
                hits.append(
                    Hit(record.id, record.path, 0.0, record.duration, score / 10, SUMMARIES[name], kind="video")
                )
                continue
            for clip in self.clips(name):
                score = len(words & set(re.findall(r"\w+", clip.transcript.lower())))
                hits.append(
                    Hit(
                        record.id,
                        record.path,
                        clip.start,
                        clip.end,
                        score / 10,
                        clip.transcript,
                        transcript=clip.transcript,
                        ocr=clip.ocr,
                    )
                )
        return sorted(hits, key=lambda h: -h.score)[:k]

    def transcript(self, key: str, start: float = 0.0, end: float | None = None) -> list[Segment]:
        end = self.video(key).duration if end is None else end
        return [Segment(c.start, c.end, c.transcript) for c in self.clips(key) if c.end > start and c.start < end]

    def frames(self, key: str, start: float, end: float, fps: float = 2.0, max_side: int = 448) -> ClipFrames:
        record = self.video(key)
        start, end = max(0.0, float(start)), min(float(end), record.duration)
        count = max(1, min(8, round((end - start) * fps)))
        times = [start + (end - start) * (i + 0.5) / count for i in range(count)]
        frames = [np.full((36, 64, 3), 40 + 20 * i, np.uint8) for i in range(count)]
        return ClipFrames(video_id=record.id, start=start, end=end, frames=frames, times=times)

    def mentions(self, words: list[str]) -> dict[str, bool]:
        """As `Library.mentions`: a word is said when one of its forms is a term of a clip's text."""
        from vidrag.indexing.embed import SparseEncoder, word_forms

        texts = [f"{text} {shown}" for clips in CLIPS.values() for _, _, text, shown in clips]
        held = {index for text in texts for index in SparseEncoder().document(text).indices}
        return {word: bool(held & set(word_forms(word))) for word in words}

    def similarity(self, query: str, texts: list[str]) -> list[float]:
        vectors = self.embedder.dense([query, *texts])
        return [sum(a * b for a, b in zip(vectors[0], v)) for v in vectors[1:]]

    def close(self) -> None:
        self.catalog.close()
