"""The ingest pipeline: files in, clips with text and vectors in Qdrant, a row each in the catalog.

Per video: hash → probe → (speech recognition in a worker thread ‖ one decode pass for cuts,
motion, OCR and caption frames) → clip plan → caption → embed → store, each stage implemented once in
`stages` (the Ray pipeline in `distributed` runs the same functions). Point ids are deterministic,
so an interrupted run resumes by redoing the unfinished video without duplicates, and a changed file
replaces its clips. A bad file is recorded and skipped; the rest of the batch goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vidrag.indexing import stages
from vidrag.indexing.asr import Transcriber
from vidrag.indexing.captioners.base import Captioner
from vidrag.indexing.embed import Embedder
from vidrag.indexing.ocr import TextReader, ocr_key
from vidrag.indexing.stages import PIPELINE_VERSION, IngestOptions, StageConfig, VideoWork
from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import VidragError
from vidrag.storage.integrity import points_missing
from vidrag.storage.qdrant_store import ClipStore

__all__ = ["PIPELINE_VERSION", "IngestOptions", "IngestResult", "Indexer", "expand_paths", "throughput"]

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


@dataclass
class IngestResult:
    path: str
    status: str  # indexed | unchanged | failed
    video_id: str | None = None
    clips: int = 0
    duration: float = 0.0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


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


def failure_message(path: str | Path, err: Exception) -> str:
    """What a failed video's result and catalog row say: the vidrag error as written, or any other
    exception named with its type (it must not stop the batch either)."""
    if isinstance(err, VidragError):
        return str(err)
    return f"{path}: unexpected error {type(err).__name__}: {err}"


class Indexer:
    """Runs the pipeline over files. Every collaborator is injected (see `vidrag.api.wiring` for defaults).

    The catalog is the truth of what is done: `unchanged` decides what to skip, `finish` records a
    finished video and `fail` a failed one — the Ray pipeline's driver calls the same three.
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
        caption_batch: int = 1,
    ) -> None:
        self.store, self.catalog, self.embedder = store, catalog, embedder
        self.transcriber, self.captioner, self.ocr = transcriber, captioner, ocr
        self.cache_dir = Path(cache_dir)
        self.options = options or IngestOptions()
        self.caption_batch = max(1, caption_batch)
        self.config = StageConfig.of(self.options, self.cache_dir, captioner, self.caption_batch, transcriber)
        self.settings_key = self.options.key(
            embedder.model_name,
            transcriber.model_name,
            captioner.name,
            json.dumps(captioner.describe(), sort_keys=True, default=str),
            ocr_key(ocr),
        )

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
                for path in files:
                    results.append(self.ingest_file(path, progress))
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
        """The stored result when the catalog has this file, same size, time and settings, done cleanly.

        A video that lost content (e.g. speech the model did not read) is retried, not skipped, and so
        is one whose points the store lacks (a lost or emptied store: `points_missing`).
        """
        stat = path.stat()
        for record in self.catalog.videos_at_path(str(path)):
            if (
                not record.warnings
                and (record.size, record.mtime, record.status, record.settings_key)
                == (stat.st_size, stat.st_mtime, "indexed", self.settings_key)
                and not points_missing(self.store, record.id, record.clip_count)
            ):
                return IngestResult(str(path), "unchanged", record.id, record.clip_count, record.duration)
        return None

    def _ingest(self, path: Path, progress: Progress | None) -> IngestResult:
        def report(stage: str, done: float, total: float) -> None:
            if progress:
                progress(str(path), stage, done, total)

        report("hash", 0.0, 1.0)
        work = stages.probe_and_hash(path)
        self.catalog.upsert_video(work.record(self.settings_key, "indexing"))
        self.config.analyse(work, self.transcriber, self.ocr, report)
        self.config.caption(work, self.captioner, report)
        self.config.embed(work, self.embedder)
        result = self.finish(work)
        report("store", 1.0, 1.0)
        return result

    def finish(self, work: VideoWork) -> IngestResult:
        """Write the video's points unless a worker already did, then record it as indexed, replacing
        the clips of an older version of the same file."""
        if work.error:
            return self.fail(Path(work.path), None, work.error)
        if not work.written:
            stages.write(work, self.store)
        stages.save_transcript(work, self.cache_dir, self.transcriber.model_name)
        record = work.record(self.settings_key, "indexed")
        self.catalog.upsert_video(record)
        for old in self.catalog.videos_at_path(work.path):
            if old.id != work.video_id:
                self.store.delete_video(old.id)
                self.catalog.delete_video(old.id)
        for warning in work.warnings:
            log.warning("%s: %s", work.path, warning)
        return IngestResult(
            work.path,
            "indexed",
            work.video_id,
            len(work.clips),
            work.duration,
            timings=record.timings,
            warnings=list(work.warnings),
        )

    def fail(self, path: Path, err: Exception | None, message: str | None = None) -> IngestResult:
        """Record a failed video (the error, or an already-worded message) and return its result."""
        if message is None:
            message = failure_message(path, err) if err is not None else f"{path}: failed for no stated reason"
        if isinstance(err, VidragError) or err is None:
            log.warning("%s", message)
        else:
            log.error("ingest of %s failed", path, exc_info=err)
        self.catalog.record_failure(str(path), message)
        return IngestResult(str(path), "failed", error=message)
