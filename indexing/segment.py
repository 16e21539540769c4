"""Cutting a video into clips: shot cuts, a maximum clip length, tiny-clip merging, pause snapping.

`ShotDetector` feeds PySceneDetect's ContentDetector the frames the pipeline already decoded (no
second decode); `plan_clips` is a pure function from cut times, the video's duration and the
transcript's pauses to a gap-free list of (start, end) spans in source seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vidrag.storage.errors import InputError

MAX_CLIP = 10.0
"""The longest clip, seconds (the default of `vidrag ingest` and of every function here)."""
MIN_CLIP = 2.0
"""Shots shorter than this, seconds, are merged into a neighbour."""
SHOT_THRESHOLD = 27.0
"""PySceneDetect's ContentDetector threshold (its own default; lower finds more cuts)."""

Span = tuple[float, float]


class ShotDetector:
    """Online shot-cut detection over decoded frames, in source time.

    Args:
        fps: nominal frame rate (PySceneDetect counts frames at this rate).
        threshold: ContentDetector threshold (27 is its default; lower finds more cuts).
        min_shot: shortest shot, seconds.
        width: frames are shrunk to about this width before scoring (cuts do not need detail): by the
            whole factor nearest to it (640 → 320, 1280 → 256, 1920 → 240), whose area average OpenCV
            computes ~12× faster than a fractional one (0.07 against 0.80 ms a 640×360 frame).
    """

    def __init__(self, fps: float, threshold: float = SHOT_THRESHOLD, min_shot: float = 0.6, width: int = 256) -> None:
        from scenedetect.detectors import ContentDetector

        self.fps = fps if fps > 0 else 25.0
        self.width, self.min_shot = width, min_shot
        self._detector = ContentDetector(threshold=threshold, min_scene_len=max(1, round(min_shot * self.fps)))
        self._times: list[float] = []
        self.cuts: list[float] = []

    def add(self, time: float, frame_rgb: np.ndarray) -> None:
        """Score the next frame (frames must come in order)."""
        import cv2
        from scenedetect.common import FrameTimecode

        rows, columns = frame_rgb.shape[:2]
        factor = max(1, round(columns / self.width))
        size = (max(2, columns // factor), max(2, rows // factor))
        small = cv2.resize(frame_rgb, size, interpolation=cv2.INTER_AREA)
        index = len(self._times)
        self._times.append(time)
        found = self._detector.process_frame(FrameTimecode(index, fps=self.fps), small[:, :, ::-1])
        self._record(found)

    def pending_since(self) -> float:
        """The time from which a cut may still be reported for frames already added: the start of a
        merge in progress (PySceneDetect's flash filter holds back a burst of changes until it ends),
        else the last frame's time less the minimum shot length; 0 when the detector does not say."""
        if not self._times:
            return 0.0
        flash = getattr(self._detector, "_flash_filter", None)
        if flash is None or not hasattr(flash, "_merge_triggered"):
            return 0.0
        if flash._merge_triggered:
            start = getattr(flash, "_merge_start", None)
            index = int(getattr(start, "frame_num", 0) or 0)
            return self._times[min(index, len(self._times) - 1)] if index > 0 else 0.0
        return self._times[-1] - self.min_shot

    def finish(self) -> list[float]:
        """Flush the detector; the cut times found, ascending."""
        from scenedetect.common import FrameTimecode

        if self._times:
            self._record(self._detector.post_process(FrameTimecode(len(self._times) - 1, fps=self.fps)))
        return sorted(set(self.cuts))

    def _record(self, found: Sequence) -> None:
        for code in found:
            index = int(code.frame_num)
            if 0 < index < len(self._times):
                self.cuts.append(self._times[index])


def change_spikes(
    motion: Sequence[tuple[float, float]], *, floor: float = 0.005, ratio: float = 6.0, window: int = 12
) -> list[float]:
    """Cuts that colour-based detection misses: a sudden picture change between still frames.

    Slides are mostly one colour, so a slide change barely moves PySceneDetect's HSV score; the mean
    absolute difference of tiny grey frames spikes instead. A frame is a cut when its difference is
    above `floor` and `ratio` times the median difference of the frames around it.

    Args:
        motion: (time, mean absolute difference from the previous frame, 0–1) per decoded frame.
        floor: the smallest difference that can be a cut.
        ratio: how far above its neighbourhood a difference must stand.
        window: frames on each side that form the neighbourhood.
    """
    values = np.array([value for _, value in motion], dtype=np.float32)
    cuts = []
    for i in np.flatnonzero(values >= floor):
        around = np.concatenate([values[max(0, i - window) : i], values[i + 1 : i + 1 + window]])
        if i > 0 and (around.size == 0 or values[i] >= ratio * max(float(np.median(around)), 1e-4)):
            cuts.append(float(motion[int(i)][0]))
    return cuts


def merge_cuts(*groups: Sequence[float], tolerance: float = 0.3) -> list[float]:
    """All cut times from several detectors, ascending, keeping the first of any within `tolerance`."""
    merged: list[float] = []
    for cut in sorted(c for group in groups for c in group):
        if not merged or cut - merged[-1] > tolerance:
            merged.append(cut)
    return merged


def plan_clips(
    duration: float,
    cuts: Sequence[float] = (),
    *,
    max_clip: float = MAX_CLIP,
    min_clip: float = MIN_CLIP,
    pauses: Sequence[tuple[float, float]] = (),
    words: Sequence[tuple[float, float]] = (),
    snap: float = 1.5,
) -> list[Span]:
    """Gap-free clips covering [0, duration].

    Args:
        duration: the video's length, seconds.
        cuts: shot-cut times, seconds.
        max_clip: no clip is longer than this (unless a single shot is shorter than min_clip).
        min_clip: shots shorter than this are merged into a neighbour.
        pauses: (time, strength) candidates for cutting inside a long shot; a sentence end is strong.
        words: (start, end) of spoken words; a cut that falls inside one moves to the nearest pause.
        snap: how far (seconds) a shot cut may move to reach a pause.

    Raises:
        InputError: duration is not positive or the lengths are inconsistent.
    """
    if not duration > 0:
        raise InputError(f"duration must be positive, got {duration}.")
    if not 0 < min_clip <= max_clip / 2:
        raise InputError(f"need 0 < min_clip <= max_clip/2, got min {min_clip}, max {max_clip}.")
    pause_times = sorted(pauses)
    bounds = [_snap(c, words, pause_times, snap) for c in sorted(cuts) if 0 < c < duration]
    bounds = _merge_short([0.0, *sorted(set(bounds)), duration], min_clip)
    spans: list[Span] = []
    for start, end in zip(bounds, bounds[1:]):
        spans.extend(_split_long(start, end, max_clip, min_clip, pause_times))
    return [(round(a, 6), round(b, 6)) for a, b in spans]


def settled_spans(
    until: float,
    cuts: Sequence[float],
    *,
    max_clip: float = MAX_CLIP,
    min_clip: float = MIN_CLIP,
    pauses: Sequence[tuple[float, float]] = (),
    words: Sequence[tuple[float, float]] = (),
    snap: float = 1.5,
) -> list[Span]:
    """The first clips `plan_clips` will plan, given every cut before `until` (and the whole transcript).

    They end at the last bound that nothing later can move: before `until - snap` (no later cut
    snaps below it) and with at least `min_clip` seconds to the bounds on either side (merging
    short shots only grows those gaps, so that bound stays and what precedes it is planned alone,
    exactly as in the whole plan). Empty when no such bound is known yet.
    """
    pause_times = sorted(pauses)
    limit = until - snap
    bounds = sorted({_snap(c, words, pause_times, snap) for c in sorted(cuts) if 0 < c < until})
    known = [0.0, *(b for b in bounds if 0 < b < limit)]
    for k in range(len(known) - 2, 0, -1):
        if known[k] - known[k - 1] >= min_clip and known[k + 1] - known[k] >= min_clip:
            break
    else:
        return []
    prefix = _merge_short(known[: k + 1], min_clip)
    spans: list[Span] = []
    for start, end in zip(prefix, prefix[1:]):
        spans.extend(_split_long(start, end, max_clip, min_clip, pause_times))
    return [(round(a, 6), round(b, 6)) for a, b in spans]


def _inside_word(t: float, words: Sequence[tuple[float, float]], margin: float = 0.15) -> bool:
    # Recognisers place word edges loosely; only a cut well inside a word counts as splitting it.
    return any(start + margin < t < end - margin for start, end in words)


def _snap(
    cut: float, words: Sequence[tuple[float, float]], pauses: Sequence[tuple[float, float]], snap: float
) -> float:
    if not _inside_word(cut, words):
        return cut
    near = [p for p, _ in pauses if abs(p - cut) <= snap]
    return min(near, key=lambda p: abs(p - cut)) if near else cut


def _merge_short(bounds: list[float], min_clip: float) -> list[float]:
    bounds = sorted(set(bounds))
    changed = True
    while changed and len(bounds) > 2:
        changed = False
        lengths = np.diff(bounds)
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_clip:
            break
        # Drop the boundary shared with the shorter neighbour (the first/last clip has one choice).
        if shortest == 0:
            drop = 1
        elif shortest == len(lengths) - 1:
            drop = shortest
        else:
            drop = shortest if lengths[shortest - 1] <= lengths[shortest + 1] else shortest + 1
        del bounds[drop]
        changed = True
    return bounds


def _split_long(
    start: float, end: float, max_clip: float, min_clip: float, pauses: Sequence[tuple[float, float]]
) -> list[Span]:
    spans: list[Span] = []
    cursor = start
    while end - cursor > max_clip:
        pieces = math.ceil((end - cursor) / max_clip)
        ideal = cursor + (end - cursor) / pieces
        reach = 0.35 * max_clip
        low = max(cursor + min_clip, ideal - reach)
        high = min(cursor + max_clip, end - min_clip, ideal + reach)
        choices = [(t, s) for t, s in pauses if low <= t <= high]
        if choices:
            scale = max_clip / 2
            cut = max(choices, key=lambda c: c[1] - abs(c[0] - ideal) / scale)[0]
        else:
            cut = ideal
        spans.append((cursor, cut))
        cursor = cut
    spans.append((cursor, end))
    return spans
