"""A per-video summary built from its clips' text, stored as its own point for library-wide questions.

Extractive: the video's name and length, its most frequent on-screen lines, and the sentences of the
clips closest to the video's mean embedding (the most typical moments).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from vidrag.storage.types import Clip, clock

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def summarise(name: str, duration: float, clips: list[Clip], vectors: np.ndarray, sentences: int = 4) -> str:
    """A short extractive summary of a video."""
    stem = re.sub(r"[_\-.]+", " ", name.rsplit(".", 1)[0]).strip()
    parts = [f"Video '{stem}' ({clock(duration, tenths=False)}, {len(clips)} clips)."]
    lines = Counter(line for clip in clips for line in clip.ocr.split("\n") if len(line) > 3)
    if lines:
        parts.append("On screen: " + "; ".join(line for line, _ in lines.most_common(8)) + ".")
    if len(clips) and len(vectors):
        centre = vectors.mean(axis=0)
        order = np.argsort(vectors @ centre)[::-1]
        picked: list[str] = []
        for index in order:
            text = clips[int(index)].transcript
            first = _SENTENCE.split(text.strip())[0] if text.strip() else ""
            if first and first not in picked:
                picked.append(first)
            if len(picked) >= sentences:
                break
        if picked:
            parts.append("Speech: " + " ".join(picked))
        else:
            parts.append(clips[int(order[0])].caption)
    return " ".join(parts)
