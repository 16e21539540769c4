"""The ingest stage graph and its rules: declared once, run by the in-process and the Ray executors.

The stages, in order, each a function of `stages`:

    analyse  probe and hash → decode pass ‖ speech recognition → clip plan     (CPU)
    caption  the clips' frames and signals → captions                          (what the captioner needs)
    embed    dense and sparse vectors → write (or the driver writes)           (light CPU)

`Needs` says what a stage's worker reserves and how much work a call takes; the caption stage's come
from the captioner itself (`Captioner.uses_gpu`, `.parallel_workers`, `.clips_per_chunk`), so neither
the wiring nor the Ray plan looks a captioner up by name.

`Rules` holds the three rules both executors follow, with the catalog as the truth of what is done:

- skip: a file is unchanged when the catalog has it (same size, time and settings), indexed cleanly,
  and the store holds its points (`points_missing`, so a lost or emptied store is redone);
- failure: a failed video is recorded with its error and the batch goes on; a file that decodes only
  partly is not a failure but indexed as far as it decodes and recorded `partial` (`stages.decoded_short`);
- resume: nothing is recorded `indexed` before its points are written; point ids are deterministic, so
  a video redone after a crash overwrites what the crashed run wrote, and finishing a video removes the
  points of an older version of the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.indexing import stages
from vidrag.indexing.stages import VideoWork
from vidrag.storage.errors import VidragError
from vidrag.storage.integrity import points_missing

if TYPE_CHECKING:  # pragma: no cover
    from vidrag.indexing.captioners.base import Captioner
    from vidrag.storage.catalog import Catalog
    from vidrag.storage.qdrant_store import ClipStore

log = logging.getLogger(__name__)

LIGHT_CPUS = 0.5
"""What a worker that is idle most of the time reserves (the describer, a server client, embed)."""


@dataclass(frozen=True)
class Needs:
    """What one worker of a stage reserves, and how many items one call of the stage takes.

    Attributes:
        gpus: GPUs per worker (0: none).
        cpus: CPUs per worker.
        workers: workers the stage wants; 0 lets the executor size the pool (one per GPU for a GPU
            stage, every CPU left for the analyse stage).
        batch: items (clips) per call.
    """

    gpus: float = 0.0
    cpus: float = 1.0
    workers: int = 0
    batch: int = 1


@dataclass(frozen=True)
class Stage:
    """One stage of the graph: its name, the steps it runs in order, and what its workers need."""

    name: str
    steps: tuple[str, ...]
    needs: Needs


def caption_needs(captioner: Captioner, requested_batch: int = 0) -> Needs:
    """What the caption stage needs, as the captioner declares it.

    Args:
        captioner: the captioner.
        requested_batch: clips per captioner call the user asked for (VIDRAG_CAPTIONER_BATCH; 0 = automatic).
    """
    batch = captioner.clips_per_chunk(requested_batch)
    if captioner.uses_gpu:
        return Needs(gpus=1.0, cpus=1.0, workers=0, batch=batch)
    return Needs(gpus=0.0, cpus=LIGHT_CPUS, workers=captioner.parallel_workers, batch=batch)


def stage_graph(caption: Needs) -> tuple[Stage, ...]:
    """The stages in order, with what each one's workers need."""
    return (
        Stage("analyse", ("probe and hash", "decode pass ‖ speech recognition", "clip plan"), Needs(cpus=1.0)),
        Stage("caption", ("caption",), caption),
        Stage("embed", ("embed", "write"), Needs(cpus=LIGHT_CPUS, workers=1)),
    )


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


def failure_message(path: str | Path, err: Exception) -> str:
    """What a failed video's result and catalog row say: the vidrag error as written, or any other
    exception named with its type (it must not stop the batch either)."""
    if isinstance(err, VidragError):
        return str(err)
    return f"{path}: unexpected error {type(err).__name__}: {err}"


class Rules:
    """The skip, failure and resume rules, over one catalog and store (see the module docstring).

    Args:
        store: the clip store.
        catalog: the catalog.
        settings_key: what the settings that shape clips hash to (a change redoes every video).
        save_transcript: caches a finished video's transcript (the resume rule keeps speech read once).
    """

    def __init__(
        self,
        store: ClipStore,
        catalog: Catalog,
        settings_key: str,
        save_transcript: Callable[[VideoWork], None],
    ) -> None:
        self.store, self.catalog, self.settings_key = store, catalog, settings_key
        self._save_transcript = save_transcript

    # skip ---------------------------------------------------------------------------------------

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

    def triage(self, path: Path) -> IngestResult | None:
        """The skip rule under the failure rule: a result for a file that needs no work (unchanged, or
        failed before any stage ran, e.g. it vanished), None for one to ingest."""
        try:
            return self.unchanged(path)
        except OSError as err:
            return self.fail(path, err)

    # resume -------------------------------------------------------------------------------------

    def begin(self, work: VideoWork) -> None:
        """Record that a video's ingest started (status `indexing`: never skipped, so a crash redoes it)."""
        self.catalog.upsert_video(work.record(self.settings_key, "indexing"))

    def finish(self, work: VideoWork) -> IngestResult:
        """Write the video's points unless a worker already did, then record it as indexed (or partial),
        replacing the clips of an older version of the same file; a work that carries an error fails."""
        if work.error:
            return self.fail(Path(work.path), None, work.error)
        if not work.written:
            stages.write(work, self.store)
        self._save_transcript(work)
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

    # failure ------------------------------------------------------------------------------------

    def fail(self, path: Path | str, err: Exception | None, message: str | None = None) -> IngestResult:
        """Record a failed video (the error, or an already-worded message) and return its result."""
        if message is None:
            message = failure_message(path, err) if err is not None else f"{path}: failed for no stated reason"
        if isinstance(err, VidragError) or err is None:
            log.warning("%s", message)
        else:
            log.error("ingest of %s failed", path, exc_info=err)
        self.catalog.record_failure(str(path), message)
        return IngestResult(str(path), "failed", error=message)


def failed_work(work: VideoWork, err: Exception) -> VideoWork:
    """The failure rule inside a stage: the work, reduced to its path, id and error, travels on to
    `Rules.finish` (which records the failure) while the other videos go on."""
    return VideoWork(work.path, video_id=work.video_id, error=failure_message(work.path, err))
