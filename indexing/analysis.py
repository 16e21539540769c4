"""One decode pass over a video that feeds every frame-based signal at once.

Each frame is decoded once and handed, in order, to the shot detector and the motion meter; at the
analysis rate a frame is read by OCR (only when the picture changed since the last read); at the
captioner's rate a resized copy is kept for captioning. Nothing decodes the video a second time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidrag.indexing.media import MediaInfo, iter_frames, resize_to
from vidrag.indexing.ocr import TextReader
from vidrag.indexing.segment import SHOT_THRESHOLD, ShotDetector, change_spikes, merge_cuts

log = logging.getLogger(__name__)

ANALYSIS_FPS = 1.0
"""Frames per second examined for on-screen text and the describer (the default of `vidrag ingest`)."""


@dataclass
class FrameSample:
    """A frame kept for captioning, stored JPEG-compressed (an hour at 3 fps is ~0.3 GB, not ~4 GB)."""

    time: float
    jpeg: bytes

    @classmethod
    def of(cls, time: float, frame: np.ndarray, quality: int = 92) -> FrameSample:
        import cv2

        ok, data = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding of a caption frame failed")
        return cls(time, data.tobytes())

    @property
    def frame(self) -> np.ndarray:
        """The frame as RGB uint8 (decoded on each access; callers keep what they need)."""
        import cv2

        decoded = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("a stored frame is not a readable JPEG")
        return decoded[:, :, ::-1].copy()


@dataclass
class Analysis:
    """What the decode pass measured."""

    duration: float
    frames_decoded: int
    cuts: list[float]
    motion: list[tuple[float, float]]
    ocr: list[tuple[float, list[str]]]
    samples: list[FrameSample]
    timings: dict[str, float] = field(default_factory=dict)
    decoded_until: float = 0.0  # the end of the last decoded frame (short of `duration` in a truncated file)


def _tiny_gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return (
        cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        / 255.0
    )


def _picture_changed(small: np.ndarray, before: np.ndarray, share: float) -> bool:
    """Whether more than `share` of a thumbnail's pixels changed visibly (by over 10% of full scale).

    A slide change on a mostly white slide moves the mean difference by only ~0.011–0.017, while
    4–11% of the thumbnail's pixels change; compression noise on a still picture changes none.
    """
    return float((np.abs(small - before) > 0.1).mean()) > share


class _SampleClock:
    """Fires once per period of source time, at the first frame at or after each bin centre."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps if fps > 0 else float("inf")
        self.next = self.period / 2

    def due(self, t: float) -> bool:
        if t + 1e-6 < self.next:
            return False
        while self.next <= t + 1e-6:
            self.next += self.period
        return True


class Analyser:
    """The decode pass's measurements, fed one frame at a time in order (`add`), closed by `finish`.

    While frames still come, `settled_cuts` gives the cuts that no later frame can change, so clips
    can be planned and captioned before the whole video is decoded.
    """

    def __init__(
        self,
        info: MediaInfo,
        *,
        ocr: TextReader | None,
        analysis_fps: float = ANALYSIS_FPS,
        caption_fps: float = 0.5,
        caption_side: int = 480,
        shot_threshold: float = SHOT_THRESHOLD,
        ocr_change: float = 0.01,
    ) -> None:
        self.info, self.ocr, self.caption_side, self.ocr_change = info, ocr, caption_side, ocr_change
        self.shots = ShotDetector(info.fps or 25.0, threshold=shot_threshold)
        self.ocr_tick, self.cap_tick = _SampleClock(analysis_fps), _SampleClock(caption_fps)
        self.timings = {"decode": 0.0, "segment": 0.0, "ocr": 0.0}
        self.motion: list[tuple[float, float]] = []
        self.texts: list[tuple[float, list[str]]] = []
        self.samples: list[FrameSample] = []
        self.previous: np.ndarray | None = None
        self.last_read: np.ndarray | None = None
        self.last_lines: list[str] = []
        self.count, self.last_time = 0, 0.0

    def add(self, t: float, frame: np.ndarray) -> None:
        """Measure the next frame (source time `t`)."""
        now = time.perf_counter()
        self.count, self.last_time = self.count + 1, t
        self.shots.add(t, frame)
        small = _tiny_gray(frame)
        previous = self.previous
        self.motion.append((t, float(np.abs(small - previous).mean()) if previous is not None else 0.0))
        self.previous = small
        after_shots = time.perf_counter()
        self.timings["segment"] += after_shots - now
        if self.ocr is not None and self.ocr_tick.due(t):
            if self.last_read is None or _picture_changed(small, self.last_read, self.ocr_change):
                self.last_lines, self.last_read = self.ocr.read(frame), small
            self.texts.append((t, self.last_lines))
        if self.cap_tick.due(t):
            self.samples.append(FrameSample.of(t, resize_to(frame, self.caption_side)))
        self.timings["ocr"] += time.perf_counter() - after_shots

    def settled_cuts(self) -> tuple[list[float], float]:
        """(the cuts before `until`, `until`): the time before which no later frame changes the cuts.

        Shot cuts come out of the detector within its minimum shot length; a change spike depends on
        the `SPIKE_WINDOW` frames after it; merging keeps the first cut of a close group. A margin of
        seconds beyond those covers all three.
        """
        step = 1.0 / self.info.fps if self.info.fps else 0.04
        until = min(self.last_time - SPIKE_WINDOW * step - SETTLE_MARGIN_S, self.shots.pending_since())
        if until <= 0:
            return [], 0.0
        cuts = merge_cuts(self.shots.cuts, change_spikes(self.motion))
        return [c for c in cuts if c < until], until

    def finish(self) -> Analysis:
        """Flush the shot detector; what the pass measured."""
        info, count = self.info, self.count
        step = 1.0 / info.fps if info.fps else 0.04
        duration = max(info.duration, self.last_time + step) if count else info.duration
        before = time.perf_counter()
        cuts = merge_cuts(self.shots.finish(), change_spikes(self.motion))
        self.timings["segment"] += time.perf_counter() - before
        decoded_until = self.last_time + step if count else 0.0
        return Analysis(duration, count, cuts, self.motion, self.texts, self.samples, self.timings, decoded_until)


SPIKE_WINDOW = 12
"""Frames on each side that `change_spikes` compares a frame with (its default window)."""
SETTLE_MARGIN_S = 2.0
"""Extra seconds before the last decoded frame that `Analyser.settled_cuts` leaves unsettled."""


def analyse(
    path: str | Path,
    info: MediaInfo,
    *,
    ocr: TextReader | None,
    analysis_fps: float = ANALYSIS_FPS,
    caption_fps: float = 0.5,
    caption_side: int = 480,
    shot_threshold: float = SHOT_THRESHOLD,
    ocr_change: float = 0.01,
    decoders: int = 1,
    progress: Callable[[float, float], None] | None = None,
    each: Callable[[Analyser, float], None] | None = None,
) -> Analysis:
    """Decode every frame once and measure cuts, motion, on-screen text and caption frames.

    The frames come in order from `decoders` threads reading the video in segments (`iter_frames`),
    while this thread measures the frames already decoded; `each(analyser, t)` runs after each frame.
    """
    analyser = Analyser(
        info,
        ocr=ocr,
        analysis_fps=analysis_fps,
        caption_fps=caption_fps,
        caption_side=caption_side,
        shot_threshold=shot_threshold,
        ocr_change=ocr_change,
    )
    last_report = 0.0
    clock = time.perf_counter()
    for t, frame in iter_frames(path, info, decoders=decoders):
        analyser.timings["decode"] += time.perf_counter() - clock
        analyser.add(t, frame)
        if each is not None:
            each(analyser, t)
        if progress and t - last_report >= 5.0:
            progress(t, info.duration)
            last_report = t
        clock = time.perf_counter()
    analysis = analyser.finish()
    if progress:
        progress(analysis.duration, analysis.duration)
    return analysis
