"""Deterministic ids: a video is named by its content, a clip by its video and span.

Re-ingesting an unchanged file therefore writes the same points again (an overwrite, never a
duplicate), and a changed file gets a new video id whose clips replace the old ones.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

_NAMESPACE = uuid.UUID("6f1c1f0e-6b9b-4d1e-9a57-1d9d0c7a2b10")
_CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def video_id_from_hash(digest: str) -> str:
    """The video id: the first 16 hex digits of the content hash."""
    return digest[:16]


def clip_point_id(video_id: str, start: float, end: float, kind: str = "clip") -> str:
    """The Qdrant point id of a clip: uuid5 of video id, kind and span (millisecond precision)."""
    return str(uuid.uuid5(_NAMESPACE, f"{video_id}:{kind}:{start:.3f}:{end:.3f}"))
