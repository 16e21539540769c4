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
from vidrag.indexing.segment import ShotDetector, change_spikes, merge_cuts

log = logging.getLogger(__name__)


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


def analyse(
    path: str | Path,
    info: MediaInfo,
    *,
    ocr: TextReader | None,
    analysis_fps: float = 1.0,
    caption_fps: float = 0.5,
    caption_side: int = 480,
    shot_threshold: float = 27.0,
    ocr_change: float = 0.01,
    progress: Callable[[float, float], None] | None = None,
) -> Analysis:
    """Decode every frame once and measure cuts, motion, on-screen text and caption frames."""
    shots = ShotDetector(info.fps or 25.0, threshold=shot_threshold)
    ocr_tick, cap_tick = _SampleClock(analysis_fps), _SampleClock(caption_fps)
    timings = {"decode": 0.0, "segment": 0.0, "ocr": 0.0}
    motion: list[tuple[float, float]] = []
    texts: list[tuple[float, list[str]]] = []
    samples: list[FrameSample] = []
    previous = last_read = None
    last_lines: list[str] = []
    count, last_time, last_report = 0, 0.0, 0.0
    clock = time.perf_counter()
    for t, frame in iter_frames(path, info):
        now = time.perf_counter()
        timings["decode"] += now - clock
        count, last_time = count + 1, t
        shots.add(t, frame)
        small = _tiny_gray(frame)
        motion.append((t, float(np.abs(small - previous).mean()) if previous is not None else 0.0))
        previous = small
        after_shots = time.perf_counter()
        timings["segment"] += after_shots - now
        if ocr is not None and ocr_tick.due(t):
            if last_read is None or _picture_changed(small, last_read, ocr_change):
                last_lines, last_read = ocr.read(frame), small
            texts.append((t, last_lines))
        if cap_tick.due(t):
            samples.append(FrameSample.of(t, resize_to(frame, caption_side)))
        timings["ocr"] += time.perf_counter() - after_shots
        if progress and t - last_report >= 5.0:
            progress(t, info.duration)
            last_report = t
        clock = time.perf_counter()
    step = 1.0 / info.fps if info.fps else 0.04
    duration = max(info.duration, last_time + step) if count else info.duration
    before = time.perf_counter()
    cuts = merge_cuts(shots.finish(), change_spikes(motion))
    timings["segment"] += time.perf_counter() - before
    if progress:
        progress(duration, duration)
    decoded_until = last_time + step if count else 0.0
    return Analysis(duration, count, cuts, motion, texts, samples, timings, decoded_until)
