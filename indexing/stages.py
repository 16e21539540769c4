"""The ingest stages, one implementation each, shared by the single-process and the Ray pipelines.

A `VideoWork` carries one video through the stages: probe and hash → decode pass (cuts, motion, OCR
and caption frames) beside speech recognition → clip plan → caption → embed → write. Each stage is a
plain function that takes the work and the models it needs and fills in its part, so
`pipeline.Indexer` runs them in one process and `distributed` runs them as Ray Data stages without a
second copy of any stage. A work item pickles small: caption frames travel JPEG-compressed (as
`FrameSample`s) and are dropped once captioned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from vidrag.indexing.analysis import ANALYSIS_FPS, Analyser, Analysis, FrameSample, analyse
from vidrag.indexing.asr import Transcriber, Transcript, cut_candidates, join_windows, word_spans
from vidrag.indexing.captioners.base import Captioner, ClipFrames
from vidrag.indexing.embed import Embedder
from vidrag.indexing.media import MediaInfo, iter_audio, probe
from vidrag.indexing.ocr import TextReader, merge_lines
from vidrag.indexing.segment import MAX_CLIP, MIN_CLIP, SHOT_THRESHOLD, plan_clips, settled_spans
from vidrag.indexing.summary import summarise
from vidrag.storage.errors import InputError
from vidrag.storage.ids import content_hash, video_id_from_hash
from vidrag.storage.qdrant_store import ClipStore, ClipVectors
from vidrag.storage.types import Clip, VideoRecord

log = logging.getLogger(__name__)

PIPELINE_VERSION = 7  # bump when a change alters clips or their text: stored videos are redone

T = TypeVar("T")

StageProgress = Callable[[str, float, float], None]
"""progress(stage, done, total) for one video: stage is 'hash', 'decode', 'caption' or 'store'."""


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall time of the block to `timings[key]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - started


@dataclass
class IngestOptions:
    max_clip: float = MAX_CLIP
    min_clip: float = MIN_CLIP
    shot_threshold: float = SHOT_THRESHOLD
    analysis_fps: float = ANALYSIS_FPS

    def key(self, *parts: str) -> str:
        blob = json.dumps([PIPELINE_VERSION, asdict(self), *parts], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class VideoWork:
    """One video on its way through the stages; each stage fills in its fields."""

    path: str
    video_id: str = ""
    size: int = 0
    mtime: float = 0.0
    info: MediaInfo | None = None
    analysis: Analysis | None = None
    transcript: Transcript | None = None
    transcript_cached: bool = False
    spans: list[tuple[float, float]] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    points: list[ClipVectors] = field(default_factory=list)
    summary: str = ""
    written: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    # What earlier stages filled in, for the stages that run after them.
    @property
    def probed(self) -> MediaInfo:
        return self._after("the probe", self.info)

    @property
    def analysed(self) -> Analysis:
        return self._after("the decode pass", self.analysis)

    @property
    def heard(self) -> Transcript:
        return self._after("speech recognition", self.transcript)

    def _after(self, stage: str, value: T | None) -> T:
        if value is None:
            raise RuntimeError(f"{self.path}: a stage ran before {stage}")
        return value

    @property
    def truncated(self) -> bool:
        """Whether the file decoded short of its declared duration (indexed as far as it goes)."""
        return any(warning.startswith(TRUNCATED) for warning in self.warnings)

    @property
    def duration(self) -> float:
        if self.analysis is not None:
            return self.analysis.duration
        return self.info.duration if self.info else 0.0

    def record(self, settings_key: str, status: str) -> VideoRecord:
        """The catalog row for this video as far as it got."""
        info = self.info
        return VideoRecord(
            id=self.video_id,
            path=self.path,
            size=self.size,
            mtime=self.mtime,
            duration=self.duration,
            fps=info.fps if info else 0.0,
            width=info.width if info else 0,
            height=info.height if info else 0,
            has_audio=bool(info and info.has_audio),
            language=self.transcript.language if self.transcript else None,
            status="partial" if status == "indexed" and self.truncated else status,
            clip_count=len(self.clips),
            timings={k: round(v, 3) for k, v in self.timings.items()},
            summary=self.summary,
            cuts=[round(c, 4) for c in self.analysis.cuts] if self.analysis else [],
            warnings=list(self.warnings),
            settings_key=settings_key,
        )


# stage 1: probe and hash ----------------------------------------------------------------------


def probe_and_hash(path: str | Path) -> VideoWork:
    """Name the video by its content and read its streams.

    Raises:
        InputError: the file cannot be read as media.
    """
    path = Path(path).resolve()
    stat = path.stat()
    work = VideoWork(str(path), size=stat.st_size, mtime=stat.st_mtime)
    with timed(work.timings, "hash"):
        work.video_id = video_id_from_hash(content_hash(path))
    work.info = probe(path)
    return work


# stage 2: decode pass beside speech recognition -----------------------------------------------


def decode_and_transcribe(
    work: VideoWork,
    *,
    transcriber: Transcriber,
    ocr: TextReader | None,
    caption_fps: float,
    caption_side: int,
    analysis_fps: float,
    shot_threshold: float,
    cache_dir: Path | None,
    decoders: int = 1,
    progress: StageProgress | None = None,
    watch: Callable[[Analyser, float, Future[None]], None] | None = None,
) -> None:
    """One decode pass (cuts, motion, OCR, caption frames), its frames read by `decoders` threads,
    while a thread runs speech recognition; `watch(analyser, t, speech)` runs after each frame.

    Raises:
        InputError: no frame could be decoded.
    """

    def report(done: float, total: float) -> None:
        if progress:
            progress("decode", done, total)

    with ThreadPoolExecutor(1, thread_name_prefix="asr") as pool:
        speech = pool.submit(transcribe, work, transcriber, cache_dir)
        analysis = analyse(
            work.path,
            work.probed,
            ocr=ocr,
            analysis_fps=analysis_fps,
            caption_fps=caption_fps,
            caption_side=caption_side,
            shot_threshold=shot_threshold,
            decoders=decoders,
            progress=report,
            each=(lambda analyser, t: watch(analyser, t, speech)) if watch else None,
        )
        speech.result()
    for key, seconds in analysis.timings.items():
        work.timings[key] = work.timings.get(key, 0.0) + seconds
    if analysis.frames_decoded == 0:
        raise InputError(f"{work.path}: no frame could be decoded; the file is damaged — re-copy or re-encode it.")
    short = decoded_short(analysis.decoded_until, work.probed.duration)
    if short:
        analysis.duration = analysis.decoded_until
        work.warnings.append(short)
    work.analysis = analysis


TRUNCATED = "decoded only"
"""How the warning of a file that decodes short of its declared length begins (`VideoWork.record` reads it)."""


def decoded_short(decoded: float, declared: float) -> str | None:
    """The warning for a file whose frames stop well before its declared duration (an interrupted copy,
    a damaged tail), or None. The margin (1 s, or 5 % of a long file) ignores the usual mismatch of
    container and stream lengths."""
    if declared <= 0 or decoded >= declared - max(1.0, 0.05 * declared):
        return None
    return (
        f"{TRUNCATED} {decoded:.1f} s of the {declared:.1f} s the file declares: it is truncated or damaged, "
        f"so it is indexed up to {decoded:.1f} s; re-copy or re-encode it to index the rest"
    )


def transcribe(work: VideoWork, transcriber: Transcriber, cache_dir: Path | None) -> None:
    """The video's transcript, from the cache when an earlier run stored it; lost speech is a warning.

    The audio is read and heard a window at a time (`media.iter_audio`), so memory does not grow with
    the track; a track of one window is heard whole, as before windows existed.
    """
    cached = transcript_cache(cache_dir, work.video_id, transcriber.variant)
    if cached is not None and cached.is_file():
        work.transcript, work.transcript_cached = Transcript.from_dict(json.loads(cached.read_text())), True
        return
    pieces: list[tuple[float, Transcript]] = []
    windows = iter_audio(work.path, work.probed)
    work.timings.setdefault("asr", 0.0)
    while True:
        with timed(work.timings, "audio"):
            window = next(windows, None)
        if window is None:
            break
        start, audio = window
        with timed(work.timings, "asr"):
            pieces.append((start, _hear(transcriber, audio, pieces)))
    if work.probed.has_audio and not pieces:
        work.warnings.append("speech lost: the audio track could not be decoded; the clips carry no transcript.")
    work.transcript = join_windows(pieces) if pieces else Transcript(None, [])
    lost = work.transcript.lost_speech()
    if lost:
        work.warnings.append(lost)


def _hear(transcriber: Transcriber, audio: np.ndarray, before: list[tuple[float, Transcript]]) -> Transcript:
    """One window's transcript, in the language the earlier windows were heard in (when known)."""
    heard = next((t.language for _, t in before if t.language), None)
    if heard and isinstance(transcriber, Transcriber):
        return transcriber.transcribe(audio, language=heard)
    return transcriber.transcribe(audio)


def transcript_cache(cache_dir: Path | None, video_id: str, model_name: str) -> Path | None:
    """Where a video's transcript by one speech model is cached (None without a cache folder)."""
    if cache_dir is None:
        return None
    slug = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in model_name)
    return _transcript_file(cache_dir, video_id, slug)


def cached_transcripts(cache_dir: Path, video_id: str) -> list[Path]:
    """The cached transcripts of a video, one per speech model that heard it, sorted by file name."""
    pattern = _transcript_file(cache_dir, video_id, "*")
    return sorted(pattern.parent.glob(pattern.name))


def _transcript_file(cache_dir: Path, video_id: str, slug: str) -> Path:
    return Path(cache_dir) / video_id / f"transcript-{slug}.json"


def save_transcript(work: VideoWork, cache_dir: Path | None, model_name: str) -> None:
    """Cache the transcript, unless it lost speech (then the next ingest reads the speech again)."""
    target = transcript_cache(cache_dir, work.video_id, model_name)
    if target is None or work.transcript is None or work.transcript_cached or work.transcript.lost_speech():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(work.transcript.to_dict()))
    os.replace(tmp, target)


# stage 3: clip plan ---------------------------------------------------------------------------


def plan(work: VideoWork, *, max_clip: float, min_clip: float) -> None:
    """Clip spans: cuts and speech pauses, never splitting a word, at most `max_clip` seconds."""
    with timed(work.timings, "segment"):
        work.spans = plan_clips(
            work.analysed.duration,
            work.analysed.cuts,
            max_clip=max_clip,
            min_clip=min_clip,
            pauses=cut_candidates(work.heard),
            words=word_spans(work.heard),
        )


# stage 4: caption -----------------------------------------------------------------------------


RESTART = object()
"""In a stream of planned clips: the clips so far were planned early and wrongly; the whole plan follows."""


@dataclass
class PlannedClip:
    """One planned clip with its signals, its frames still JPEG (decoded when it is captioned)."""

    start: float
    end: float
    samples: list[FrameSample]
    transcript: str
    ocr: str
    stats: dict[str, float | int]

    def frames(self, video_id: str) -> ClipFrames:
        return ClipFrames(
            video_id=video_id,
            start=self.start,
            end=self.end,
            frames=[s.frame for s in self.samples],
            times=[s.time for s in self.samples],
            transcript=self.transcript,
            ocr=self.ocr,
            stats=dict(self.stats),
        )


def planned_clips(work: VideoWork) -> list[PlannedClip]:
    """Every clip of the video's plan, with its signals."""
    analysis = work.analysed
    signals = _ClipSignals(work.heard, analysis.samples, analysis.motion, analysis.ocr, analysis.cuts)
    return [signals.clip(start, end) for start, end in work.spans]


def caption(
    work: VideoWork,
    captioner: Captioner,
    batch: int,
    progress: StageProgress | None = None,
    planned: Iterable[PlannedClip | object] | None = None,
) -> None:
    """Caption the clips `batch` at a time, decoding the next batch's frames while one is captioned.

    `planned` streams the clips as the analyse stage settles them (with `RESTART` when an early plan
    turned out wrong); by default they are the work's whole plan. Batches are the same either way.
    The caption frames are dropped afterwards: later stages need only the text.
    """
    size = max(1, batch)
    feed = iter(planned_clips(work) if planned is None else planned)
    streamed = planned is not None

    def next_batch() -> list[PlannedClip] | object | None:
        items: list[PlannedClip] = []
        for item in feed:
            if item is RESTART:
                return RESTART
            assert isinstance(item, PlannedClip)
            items.append(item)
            if len(items) == size:
                break
        return items or None

    def frames() -> tuple[list[ClipFrames], float] | object | None:
        started = time.perf_counter()
        items = next_batch()
        waited = time.perf_counter() - started
        if items is None or items is RESTART:
            return items
        assert isinstance(items, list)
        return [item.frames(work.video_id) for item in items], waited

    started, waited = time.perf_counter(), 0.0
    with ThreadPoolExecutor(1, thread_name_prefix="clip-frames") as pool:
        upcoming = pool.submit(frames)
        while True:
            before = time.perf_counter()
            got = upcoming.result()
            if got is None:
                break
            upcoming = pool.submit(frames)
            if got is RESTART:
                work.clips.clear()
                continue
            assert isinstance(got, tuple)
            items, feed_wait = got
            waited += min(feed_wait, time.perf_counter() - before)  # the time this thread sat idle on the feed
            _caption_batch(work, captioner, items)
            if progress and (not streamed or work.spans):
                progress("caption", len(work.clips), max(len(work.spans), len(work.clips)))
    work.timings["caption"] = work.timings.get("caption", 0.0) + time.perf_counter() - started - waited
    if work.analysis is not None:
        work.analysis.samples = []


def _caption_batch(work: VideoWork, captioner: Captioner, items: list[ClipFrames]) -> None:
    for item, text in zip(items, captioner.caption(items)):
        work.clips.append(
            Clip(
                video_id=work.video_id,
                video=work.path,
                index=len(work.clips),
                start=item.start,
                end=item.end,
                transcript=item.transcript,
                ocr=item.ocr,
                caption=text.text,
                caption_fields=text.fields,
            )
        )


# stage 5: embed -------------------------------------------------------------------------------


def embed(work: VideoWork, embedder: Embedder, embed_caption: bool) -> None:
    """Dense and sparse vectors for every clip, and for a summary point standing for the whole video."""
    with timed(work.timings, "embed"):
        texts = [clip.text(caption=embed_caption) or clip.caption for clip in work.clips]
        dense = embedder.dense(texts)
        work.summary = summarise(Path(work.path).name, work.duration, work.clips, np.asarray(dense))
        whole = Clip(work.video_id, work.path, -1, 0.0, work.duration, caption=work.summary, kind="video")
        work.points = [ClipVectors(c, d, embedder.sparse.document(t)) for c, d, t in zip(work.clips, dense, texts)]
        summary_vector = embedder.dense([work.summary])[0]
        work.points.append(ClipVectors(whole, summary_vector, embedder.sparse.document(work.summary)))


# stage 6: write -------------------------------------------------------------------------------


def write(work: VideoWork, store: ClipStore) -> None:
    """Upsert the points (deterministic ids: a retried write overwrites) and drop the video's stale ones."""
    with timed(work.timings, "store"):
        written = store.upsert(work.points)
        store.delete_video(work.video_id, keep=written)
    work.points, work.written = [], True


def decoder_threads() -> int:
    """Decoder threads per video by default: 1, PyAV reading a bounded number of frames ahead of the
    analyse thread (`media.iter_frames`).

    More (`StageConfig.decoders`) read decord in segments, each bounded, but on a machine whose cores
    the speech, OCR and caption stages already keep busy they only add memory (the in-process
    executor overlaps decode with speech and captions).
    """
    return 1


class ClipRelease:
    """Hands out a video's clips while it is still decoded: once speech recognition is done, every
    `every_s` seconds of video, the clips that no later frame can change (`settled_spans` over the
    settled cuts), with their signals; at the end the rest of the whole plan. The early clips are
    checked against the whole plan: on any difference (which the settling rules should rule out)
    `RESTART` and the whole plan follow, so the captions are always those of the whole plan."""

    def __init__(
        self,
        work: VideoWork,
        release: Callable[[list[PlannedClip] | object], None],
        max_clip: float,
        min_clip: float,
        every_s: float = 10.0,
    ) -> None:
        self.work, self.release = work, release
        self.max_clip, self.min_clip, self.every_s = max_clip, min_clip, every_s
        self.released: list[PlannedClip] = []
        self.tried_at = 0.0

    def watch(self, analyser: Analyser, t: float, speech: Future[None]) -> None:
        if t - self.tried_at < self.every_s or not speech.done() or speech.exception() is not None:
            return
        self.tried_at = t
        cuts, until = analyser.settled_cuts()
        transcript = self.work.transcript
        if transcript is None:
            return
        spans = settled_spans(
            until,
            cuts,
            max_clip=self.max_clip,
            min_clip=self.min_clip,
            pauses=cut_candidates(transcript),
            words=word_spans(transcript),
        )
        if len(spans) <= len(self.released):
            return
        signals = _ClipSignals(transcript, analyser.samples, analyser.motion, analyser.texts, cuts)
        fresh = [signals.clip(start, end) for start, end in spans[len(self.released) :]]
        self.released.extend(fresh)
        self.release(fresh)

    def finish(self, work: VideoWork) -> None:
        whole = planned_clips(work)
        done = len(self.released)
        if whole[:done] == self.released:
            self.release(whole[done:])
            return
        log.warning("%s: the clips planned early differ from the whole plan; captioning it again", work.path)
        self.release(RESTART)
        self.release(whole)


@dataclass(frozen=True)
class StageConfig:
    """What the stages need besides their models: small and picklable, so Ray workers get a copy."""

    options: IngestOptions
    cache_dir: Path | None
    caption_fps: float
    caption_side: int
    caption_batch: int
    embed_caption: bool
    asr_model: str
    decoders: int = 1

    @classmethod
    def of(
        cls,
        options: IngestOptions,
        cache_dir: Path | None,
        captioner: Captioner,
        caption_batch: int,
        transcriber: Transcriber,
    ) -> StageConfig:
        return cls(
            options,
            cache_dir,
            captioner.fps,
            captioner.max_side,
            max(1, caption_batch),
            captioner.embed_caption,
            transcriber.variant,
            decoder_threads(),
        )

    def analyse(
        self,
        work: VideoWork,
        transcriber: Transcriber,
        ocr: TextReader | None,
        progress: StageProgress | None = None,
        release: Callable[[list[PlannedClip] | object], None] | None = None,
    ) -> None:
        """Decode pass beside speech recognition, then the clip plan.

        With `release`, the clips are handed out as they settle while the video is still decoded
        (`ClipRelease`), the rest once the plan is whole — all of them, after `RESTART`, if the
        early ones differ from the whole plan's.
        """
        options = self.options
        releaser = ClipRelease(work, release, options.max_clip, options.min_clip) if release else None
        decode_and_transcribe(
            work,
            transcriber=transcriber,
            ocr=ocr,
            caption_fps=self.caption_fps,
            caption_side=self.caption_side,
            analysis_fps=options.analysis_fps,
            shot_threshold=options.shot_threshold,
            cache_dir=self.cache_dir,
            decoders=self.decoders,
            progress=progress,
            watch=releaser.watch if releaser else None,
        )
        plan(work, max_clip=options.max_clip, min_clip=options.min_clip)
        if releaser:
            releaser.finish(work)

    def caption(
        self,
        work: VideoWork,
        captioner: Captioner,
        progress: StageProgress | None = None,
        planned: Iterable[PlannedClip | object] | None = None,
    ) -> None:
        caption(work, captioner, self.caption_batch, progress, planned)

    def embed(self, work: VideoWork, embedder: Embedder) -> None:
        embed(work, embedder, self.embed_caption)


class _ClipSignals:
    """Per-clip views of one video's signals, with the time arrays built once (not per clip)."""

    def __init__(
        self,
        transcript: Transcript,
        samples: list[FrameSample],
        motion: list[tuple[float, float]],
        ocr: list[tuple[float, list[str]]],
        cuts: list[float],
    ) -> None:
        self.transcript, self.samples, self.ocr = transcript, samples, ocr
        self.sample_times = np.array([s.time for s in samples], dtype=np.float64)
        moving = np.array(motion, dtype=np.float64).reshape(-1, 2)
        self.motion_times, self.motion = moving[:, 0], moving[:, 1]
        self.ocr_times = np.array([t for t, _ in ocr], dtype=np.float64)
        self.cuts = np.array(cuts, dtype=np.float64)

    @staticmethod
    def _between(times: np.ndarray, start: float, end: float) -> slice:
        return slice(int(np.searchsorted(times, start, "left")), int(np.searchsorted(times, end, "left")))

    def clip(self, start: float, end: float) -> PlannedClip:
        """The frames (still JPEG), speech, on-screen text and measurements of [start, end)."""
        samples = self.samples[self._between(self.sample_times, start, end)]
        if not samples and len(self.sample_times):
            samples = [self.samples[int(np.abs(self.sample_times - (start + end) / 2).argmin())]]
        ocr = self.ocr[self._between(self.ocr_times, start, end)]
        moving = self.motion[self._between(self.motion_times, start, end)]
        stats = {
            "motion": float(moving.mean()) if moving.size else 0.0,
            "cuts": int(((self.cuts > start) & (self.cuts < end)).sum()),
        }
        return PlannedClip(
            start=start,
            end=end,
            samples=samples,
            transcript=self.transcript.text_between(start, end),
            ocr="\n".join(merge_lines([lines for _, lines in ocr])),
            stats=stats,
        )
