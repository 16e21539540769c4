"""The ingest pipeline: files in, clips with text and vectors in Qdrant, a row each in the catalog.

Per video: hash → probe → (speech recognition in a worker thread ‖ one decode pass for cuts,
motion, OCR and caption frames) → clip plan → caption → embed → store. Point ids are deterministic,
so an interrupted run resumes by redoing the unfinished video without duplicates, and a changed file
replaces its clips. A bad file is recorded and skipped; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vidrag.indexing.analysis import Analysis, analyse
from vidrag.indexing.asr import Transcriber, Transcript, cut_candidates, word_spans
from vidrag.indexing.captioners.base import Captioner, ClipFrames
from vidrag.indexing.embed import Embedder
from vidrag.indexing.media import MediaInfo, load_audio, probe
from vidrag.indexing.ocr import TextReader, merge_lines, ocr_key
from vidrag.indexing.segment import plan_clips
from vidrag.indexing.summary import summarise
from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import InputError, VidragError
from vidrag.storage.ids import content_hash, video_id_from_hash
from vidrag.storage.qdrant_store import ClipStore, ClipVectors
from vidrag.storage.types import Clip, VideoRecord

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .wmv .flv .3gp .ogv".split()
)

PIPELINE_VERSION = 7  # bump when a change alters clips or their text: stored videos are redone

Progress = Callable[[str, str, float, float], None]
"""progress(path, stage, done, total): stage is 'hash', 'decode', 'caption' or 'store'."""

# Share of a video's ingest each stage stands for (start, width), in percent, for progress bars.
_STAGE_SHARES = {"hash": (0.0, 2.0), "decode": (2.0, 80.0), "caption": (82.0, 10.0), "store": (92.0, 8.0)}


def progress_fraction(stage: str, done: float, total: float) -> float:
    """How far (0–1) one video's ingest is, from a progress callback's arguments."""
    base, width = _STAGE_SHARES.get(stage, (0.0, 0.0))
    return min(1.0, (base + width * (done / total if total else 1.0)) / 100.0)


@dataclass
class IngestOptions:
    max_clip: float = 10.0
    min_clip: float = 2.0
    shot_threshold: float = 27.0
    analysis_fps: float = 1.0

    def key(self, *parts: str) -> str:
        blob = json.dumps([PIPELINE_VERSION, asdict(self), *parts], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


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


class Indexer:
    """Runs the pipeline over files. Every collaborator is injected (see `vidrag.api.wiring` for defaults)."""

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
        self.settings_key = self.options.key(
            embedder.model_name, transcriber.model_name, captioner.name,
            json.dumps(captioner.describe(), sort_keys=True, default=str), ocr_key(ocr),
        )

    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None) -> list[IngestResult]:
        """Ingest files and folders; a failure in one file never stops the others.

        Raises:
            BackendUnavailable, ModelMissing: the captioner cannot start (checked before any file).
        """
        self.captioner.check()
        files, results = expand_paths(paths)
        for result in results:
            self.catalog.record_failure(result.path, result.error or "")
        try:
            for path in files:
                results.append(self.ingest_file(path, progress))
        finally:
            # One model in memory at a time: free the stage's models (they reload on next use).
            self.captioner.close()
            self.transcriber.close()
        return results

    def ingest_file(self, path: str | Path, progress: Progress | None = None) -> IngestResult:
        path = Path(path).resolve()
        try:
            return self._ingest(path, progress)
        except VidragError as err:
            log.warning("%s", err)
            self.catalog.record_failure(str(path), str(err))
            return IngestResult(str(path), "failed", error=str(err))
        except Exception as err:  # an unexpected failure still must not stop the batch
            log.exception("ingest of %s failed", path)
            message = f"{path}: unexpected error {type(err).__name__}: {err}"
            self.catalog.record_failure(str(path), message)
            return IngestResult(str(path), "failed", error=message)

    def _ingest(self, path: Path, progress: Progress | None) -> IngestResult:
        stat = path.stat()
        previous = self.catalog.videos_at_path(str(path))
        for record in previous:
            # A video that lost content (e.g. speech the model did not read) is retried, not skipped.
            if not record.warnings and (record.size, record.mtime, record.status, record.settings_key) == (
                stat.st_size, stat.st_mtime, "indexed", self.settings_key
            ):
                return IngestResult(str(path), "unchanged", record.id, record.clip_count, record.duration)
        started = time.perf_counter()
        if progress:
            progress(str(path), "hash", 0.0, 1.0)
        video_id = video_id_from_hash(content_hash(path))
        timings = {"hash": time.perf_counter() - started}
        info = probe(path)
        record = VideoRecord(
            id=video_id, path=str(path), size=stat.st_size, mtime=stat.st_mtime, duration=info.duration,
            fps=info.fps, width=info.width, height=info.height, has_audio=info.has_audio,
            status="indexing", settings_key=self.settings_key,
        )
        self.catalog.upsert_video(record)
        warnings: list[str] = []
        clips, transcript, analysis = self._index_video(path, video_id, info, timings, warnings, progress)
        record.warnings = warnings
        record.duration = analysis.duration
        record.cuts = [round(cut, 4) for cut in analysis.cuts]
        record.language = transcript.language
        record.clip_count = len(clips)
        record.summary = self._store(path, video_id, record, clips, timings, progress)
        record.timings = {k: round(v, 3) for k, v in timings.items()}
        record.status, record.error = "indexed", None
        self.catalog.upsert_video(record)
        for old in previous:
            if old.id != video_id:
                self.store.delete_video(old.id)
                self.catalog.delete_video(old.id)
        for warning in warnings:
            log.warning("%s: %s", path, warning)
        return IngestResult(
            str(path), "indexed", video_id, len(clips), analysis.duration, timings=record.timings, warnings=warnings
        )

    def _index_video(
        self, path: Path, video_id: str, info: MediaInfo, timings: dict[str, float], warnings: list[str],
        progress: Progress | None,
    ) -> tuple[list[Clip], Transcript, Analysis]:
        def report(done: float, total: float) -> None:
            if progress:
                progress(str(path), "decode", done, total)

        with ThreadPoolExecutor(1, thread_name_prefix="asr") as pool:
            speech = pool.submit(self._transcript, path, video_id, info, timings, warnings)
            analysis = analyse(
                path, info, ocr=self.ocr, analysis_fps=self.options.analysis_fps,
                caption_fps=self.captioner.fps, caption_side=self.captioner.max_side,
                shot_threshold=self.options.shot_threshold, progress=report,
            )
            transcript = speech.result()
        timings.update(analysis.timings)
        if analysis.frames_decoded == 0:
            raise InputError(f"{path}: no frame could be decoded; the file is damaged — re-copy or re-encode it.")
        before = time.perf_counter()
        spans = plan_clips(
            analysis.duration, analysis.cuts, max_clip=self.options.max_clip, min_clip=self.options.min_clip,
            pauses=cut_candidates(transcript), words=word_spans(transcript),
        )
        timings["segment"] += time.perf_counter() - before
        clips = self._caption(path, video_id, spans, transcript, analysis, timings, progress)
        return clips, transcript, analysis

    def _transcript(
        self, path: Path, video_id: str, info: MediaInfo, timings: dict[str, float], warnings: list[str]
    ) -> Transcript:
        """The video's transcript (cached per model); speech the model lost is added to `warnings`."""
        cache = self.cache_dir / video_id / f"transcript-{_slug(self.transcriber.model_name)}.json"
        if cache.is_file():
            return Transcript.from_dict(json.loads(cache.read_text()))
        started = time.perf_counter()
        audio = load_audio(path, info)
        timings["audio"] = time.perf_counter() - started
        if info.has_audio and audio.size == 0:
            warnings.append("speech lost: the audio track could not be decoded; the clips carry no transcript.")
        transcript = self.transcriber.transcribe(audio) if audio.size else Transcript(None, [])
        timings["asr"] = time.perf_counter() - started - timings["audio"]
        lost = transcript.lost_speech()
        if lost:  # reported, and not cached: the next ingest reads the speech again
            warnings.append(lost)
            return transcript
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(transcript.to_dict()))
        os.replace(tmp, cache)
        return transcript

    def _caption(
        self, path: Path, video_id: str, spans: list[tuple[float, float]], transcript: Transcript,
        analysis: Analysis, timings: dict[str, float], progress: Progress | None,
    ) -> list[Clip]:
        started = time.perf_counter()
        clips: list[Clip] = []
        signals = _ClipSignals(video_id, transcript, analysis)
        size = self.caption_batch

        def frames(first: int) -> list[ClipFrames]:
            return [signals.clip(start, end) for start, end in spans[first : first + size]]

        # Frames are decoded a batch at a time, so a long video never holds them all at once; the next
        # batch is decoded while the captioner runs this one.
        with ThreadPoolExecutor(1, thread_name_prefix="clip-frames") as pool:
            upcoming = pool.submit(frames, 0)
            for first in range(0, len(spans), size):
                batch = upcoming.result()
                if first + size < len(spans):
                    upcoming = pool.submit(frames, first + size)
                clips.extend(self._captioned(path, video_id, batch, len(clips)))
                if progress:
                    progress(str(path), "caption", len(clips), len(spans))
        timings["caption"] = time.perf_counter() - started
        return clips

    def _captioned(self, path: Path, video_id: str, batch: list[ClipFrames], offset: int) -> list[Clip]:
        return [
            Clip(
                video_id=video_id, video=str(path), index=offset + i, start=item.start, end=item.end,
                transcript=item.transcript, ocr=item.ocr, caption=caption.text, caption_fields=caption.fields,
            )
            for i, (item, caption) in enumerate(zip(batch, self.captioner.caption(batch)))
        ]  # fmt: skip

    def _store(
        self, path: Path, video_id: str, record: VideoRecord, clips: list[Clip],
        timings: dict[str, float], progress: Progress | None,
    ) -> str:
        started = time.perf_counter()
        texts = [clip.text(caption=self.captioner.embed_caption) or clip.caption for clip in clips]
        dense = self.embedder.dense(texts)
        summary = summarise(path.name, record.duration, clips, np.asarray(dense))
        summary_clip = Clip(video_id, str(path), -1, 0.0, record.duration, caption=summary, kind="video")
        summary_vector = self.embedder.dense([summary])[0]
        timings["embed"] = time.perf_counter() - started
        started = time.perf_counter()
        items = [ClipVectors(c, d, self.embedder.sparse.document(t)) for c, d, t in zip(clips, dense, texts)]
        items.append(ClipVectors(summary_clip, summary_vector, self.embedder.sparse.document(summary)))
        written = self.store.upsert(items)
        self.store.delete_video(video_id, keep=written)
        timings["store"] = time.perf_counter() - started
        if progress:
            progress(str(path), "store", 1.0, 1.0)
        return summary


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in name)


class _ClipSignals:
    """Per-clip views of one video's analysis, with the time arrays built once (not per batch)."""

    def __init__(self, video_id: str, transcript: Transcript, analysis: Analysis) -> None:
        self.video_id, self.transcript, self.analysis = video_id, transcript, analysis
        self.sample_times = np.array([s.time for s in analysis.samples], dtype=np.float64)
        motion = np.array(analysis.motion, dtype=np.float64).reshape(-1, 2)
        self.motion_times, self.motion = motion[:, 0], motion[:, 1]
        self.ocr_times = np.array([t for t, _ in analysis.ocr], dtype=np.float64)
        self.cuts = np.array(analysis.cuts, dtype=np.float64)

    @staticmethod
    def _between(times: np.ndarray, start: float, end: float) -> slice:
        return slice(int(np.searchsorted(times, start, "left")), int(np.searchsorted(times, end, "left")))

    def clip(self, start: float, end: float) -> ClipFrames:
        """The frames (decoded here), speech, on-screen text and measurements of [start, end)."""
        samples = self.analysis.samples[self._between(self.sample_times, start, end)]
        if not samples and len(self.sample_times):
            samples = [self.analysis.samples[int(np.abs(self.sample_times - (start + end) / 2).argmin())]]
        ocr = self.analysis.ocr[self._between(self.ocr_times, start, end)]
        moving = self.motion[self._between(self.motion_times, start, end)]
        stats = {
            "motion": float(moving.mean()) if moving.size else 0.0,
            "cuts": int(((self.cuts > start) & (self.cuts < end)).sum()),
        }
        return ClipFrames(
            video_id=self.video_id, start=start, end=end, frames=[s.frame for s in samples],
            times=[s.time for s in samples], transcript=self.transcript.text_between(start, end),
            ocr="\n".join(merge_lines([lines for _, lines in ocr])), stats=stats,
        )
