"""The ingest pipeline: files in, clips with text and vectors in Qdrant, a row each in the catalog.

Per video: hash → probe → (speech recognition in a worker thread ‖ one decode pass for cuts,
motion, OCR and caption frames) → clip plan → caption → embed → store, each stage implemented once in
`stages` and declared in `graph`; `streaming` runs them here (the next video analysed while this one
is captioned), and the Ray pipeline in `distributed` runs the same functions. Point ids are deterministic,
so an interrupted run resumes by redoing the unfinished video without duplicates, and a changed file
replaces its clips. A bad file is recorded and skipped; the rest of the batch goes on. What to skip,
how a failure is recorded and how a video is finished are `graph.Rules`, which the Ray executor
(`distributed`) follows too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from vidrag.indexing import stages, streaming
from vidrag.indexing.asr import Transcriber
from vidrag.indexing.captioners.base import Captioner
from vidrag.indexing.embed import Embedder
from vidrag.indexing.graph import IngestResult, Rules, caption_needs, failure_message
from vidrag.indexing.ocr import TextReader, ocr_key
from vidrag.indexing.stages import PIPELINE_VERSION, IngestOptions, StageConfig, VideoWork
from vidrag.storage.catalog import Catalog
from vidrag.storage.qdrant_store import ClipStore

__all__ = [
    "PIPELINE_VERSION",
    "IngestOptions",
    "IngestResult",
    "Indexer",
    "expand_paths",
    "failure_message",
    "throughput",
]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .wmv .flv .3gp .ogv".split())

Progress = Callable[[str, str, float, float], None]
"""progress(path, stage, done, total): stage is 'hash', 'decode', 'caption' or 'store'."""

# Share of a video's ingest each stage stands for (start, width), in percent, for progress bars.
_STAGE_SHARES = {"hash": (0.0, 2.0), "decode": (2.0, 80.0), "caption": (82.0, 10.0), "store": (92.0, 8.0)}


def progress_fraction(stage: str, done: float, total: float) -> float:
    """How far (0–1) one video's ingest is, from a progress callback's arguments."""
    base, width = _STAGE_SHARES.get(stage, (0.0, 0.0))
    return min(1.0, (base + width * (done / total if total else 1.0)) / 100.0)


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestResult]]:
    """Files named directly, and video files found recursively in folders (sorted).

    Returns the files and a failed result for each path that does not exist.
    """
    files: list[Path] = []
    missing: list[IngestResult] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(IngestResult(str(path), "failed", error=f"{path}: no such file or folder."))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, missing


def throughput(results: list[IngestResult], wall_s: float) -> dict:
    """A run's speed: media seconds per wall second, and per stage the busy seconds (summed over
    workers, so stages that overlap add up to more than the wall time) with videos, clips and media
    seconds per busy second — the figures that size a pool of workers for that stage."""
    indexed = [r for r in results if r.status == "indexed"]
    media = sum(r.duration for r in indexed)
    per_stage: dict[str, dict[str, Any]] = {}
    for result in indexed:
        for stage, seconds in result.timings.items():
            row = per_stage.setdefault(stage, {"busy_s": 0.0, "videos": 0, "clips": 0, "media_s": 0.0})
            row["busy_s"] += seconds
            row["videos"] += 1
            row["clips"] += result.clips
            row["media_s"] += result.duration
    for row in per_stage.values():
        busy = row["busy_s"]
        if busy < 0.001:  # a stage that took no measurable time (e.g. no audio to read) has no rate
            row.update(busy_s=0.0, videos_per_s=None, clips_per_s=None, media_s_per_s=None)
            continue
        row.update(
            busy_s=round(busy, 3),
            media_s=round(row["media_s"], 2),
            videos_per_s=round(row["videos"] / busy, 3),
            clips_per_s=round(row["clips"] / busy, 2),
            media_s_per_s=round(row["media_s"] / busy, 2),
        )
    counts = {status: sum(r.status == status for r in results) for status in ("indexed", "unchanged", "failed")}
    return {
        **counts,
        "media_s": round(media, 2),
        "wall_s": round(wall_s, 3),
        "media_s_per_s": round(media / max(wall_s, 1e-9), 2),
        "stages": per_stage,
    }


class Indexer:
    """Runs the pipeline over files. Every collaborator is injected (see `vidrag.api.wiring` for defaults).

    `caption_batch` is the clips per captioner call the user asked for (0 = automatic); the captioner
    turns it into the clips the caption stage hands it at once (`Captioner.clips_per_chunk`).

    The catalog is the truth of what is done: `rules` (`graph.Rules`) decide what to skip, record a
    finished video and a failed one — the Ray pipeline's driver follows the same rules.
    """

    def __init__(
        self,
        *,
        store: ClipStore,
        catalog: Catalog,
        embedder: Embedder,
        transcriber: Transcriber,
        captioner: Captioner,
        ocr: TextReader | None,
        cache_dir: str | Path,
        options: IngestOptions | None = None,
        caption_batch: int = 0,
    ) -> None:
        self.store, self.catalog, self.embedder = store, catalog, embedder
        self.transcriber, self.captioner, self.ocr = transcriber, captioner, ocr
        self.cache_dir = Path(cache_dir)
        self.options = options or IngestOptions()
        self.requested_batch = max(0, caption_batch)
        self.caption_batch = caption_needs(captioner, self.requested_batch).batch  # clips per caption stage call
        self.config = StageConfig.of(self.options, self.cache_dir, captioner, self.caption_batch, transcriber)
        self.settings_key = self.options.key(
            embedder.model_name,
            transcriber.variant,
            captioner.name,
            json.dumps(captioner.describe(), sort_keys=True, default=str),
            ocr_key(ocr),
        )
        save = partial(_save_transcript, cache_dir=self.cache_dir, model_name=transcriber.variant)
        self.rules = Rules(store, catalog, self.settings_key, save)

    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None) -> list[IngestResult]:
        """Ingest files and folders; a failure in one file never stops the others.

        Raises:
            BackendUnavailable, ModelMissing: the captioner cannot start (checked before any file).
        """
        self.captioner.check()
        files, results = self.expand(paths)
        try:
            # one index build after the batch (HNSW once a segment passes the policy's threshold)
            with self.store.bulk():
                results.extend(streaming.stream(self, files, progress))
            self.embedder.prepare_queries()
        finally:
            # One model in memory at a time: free the stage's models (they reload on next use).
            self.captioner.close()
            self.transcriber.close()
        return results

    def expand(self, paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestResult]]:
        """The files to consider, and a recorded failure for each path that does not exist."""
        files, missing = expand_paths(paths)
        for result in missing:
            self.catalog.record_failure(result.path, result.error or "")
        return files, missing

    def ingest_file(self, path: str | Path, progress: Progress | None = None) -> IngestResult:
        path = Path(path).resolve()
        try:
            return self.unchanged(path) or self._ingest(path, progress)
        except Exception as err:  # noqa: BLE001 - a failure, even an unexpected one, must not stop the batch
            return self.fail(path, err)

    def unchanged(self, path: Path) -> IngestResult | None:
        """The skip rule (`graph.Rules.unchanged`)."""
        return self.rules.unchanged(path)

    def _ingest(self, path: Path, progress: Progress | None) -> IngestResult:
        def report(stage: str, done: float, total: float) -> None:
            if progress:
                progress(str(path), stage, done, total)

        report("hash", 0.0, 1.0)
        work = stages.probe_and_hash(path)
        self.rules.begin(work)
        self.config.analyse(work, self.transcriber, self.ocr, report)
        self.config.caption(work, self.captioner, report)
        self.config.embed(work, self.embedder)
        result = self.finish(work)
        report("store", 1.0, 1.0)
        return result

    def finish(self, work: VideoWork) -> IngestResult:
        """The resume rule (`graph.Rules.finish`): write, then record the video as indexed."""
        return self.rules.finish(work)

    def fail(self, path: Path, err: Exception | None, message: str | None = None) -> IngestResult:
        """The failure rule (`graph.Rules.fail`): record a failed video and return its result."""
        return self.rules.fail(path, err, message)


def _save_transcript(work: VideoWork, *, cache_dir: Path, model_name: str) -> None:
    stages.save_transcript(work, cache_dir, model_name)
