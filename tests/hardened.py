"""A small real library for the hardening tests: one spoken slide video and one truncated file, ingested
with the fast-tier fakes (word-hash embedder, scripted speech) into a real Qdrant Edge store and catalog."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import fakes, media

SENTENCE = "We will hire three engineers for the data platform this spring."


def build_videos(folder: Path) -> tuple[Path, Path]:
    """The slide video ("Hiring Plan", the sentence spoken) and a copy cut short (the first 0.5 s decode)."""
    video = media.speech_video(folder, text="Hiring Plan", sentence=SENTENCE)
    (folder / "short").mkdir()
    return video, media.truncated(folder / "short", faststart=True)


def open_fake_library(home: Path, roots: list[Path], patch: pytest.MonkeyPatch) -> Any:
    """`vidrag.api.wiring.open_library` on `home` with the fakes installed (the store and catalog are real)."""
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library

    fakes.install(patch, SENTENCE)
    return open_library(Settings(home=home, allowed_roots=roots, llm_url=None), for_ingest=True)


def copy_home(home: Path, target: Path) -> Path:
    """A copy of an ingested home (catalog and store) that a test may open, damage or repair on its own."""
    shutil.copytree(home, target, ignore=shutil.ignore_patterns("*.lock"))
    return target


def written_library(home: Path, video: Path, roots: list[Path]) -> Any:
    """A real `Library` (Qdrant Edge store, SQLite catalog, the word-hash embedder) holding one video whose
    clip and summary points are written directly, as ingest writes them: for API tests that need a real
    store but not the ingest (the fast tier). `video` is a real file of about 2 s."""
    from vidrag.storage.catalog import Catalog
    from vidrag.storage.edge_store import EdgeClipStore
    from vidrag.storage.qdrant_store import ClipVectors
    from vidrag.storage.types import Clip, VideoRecord
    from vidrag.tools.library import Library

    embedder = fakes.WordHashEmbedder()
    catalog = Catalog(home / "catalog.sqlite")
    store = EdgeClipStore(home / "qdrant" / "vidrag_clips", dim=fakes.DIM)
    video_id = "feedc0ffee000001"
    clip = Clip(video_id, str(video), 0, 0.0, 2.0, transcript=SENTENCE, ocr="Hiring Plan")
    summary = Clip(video_id, str(video), -1, 0.0, 2.0, caption="Hiring Plan: three engineers.", kind="video")
    points = []
    for item in (clip, summary):
        text = item.text()
        points.append(ClipVectors(item, embedder.dense([text])[0], embedder.sparse.document(text)))
    store.upsert(points)
    catalog.upsert_video(
        VideoRecord(id=video_id, path=str(video), duration=2.0, status="indexed", clip_count=1, language="en")
    )
    return Library(store=store, catalog=catalog, embedder=embedder, cache_dir=home / "cache", allowed_roots=roots)
