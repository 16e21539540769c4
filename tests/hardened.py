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
