"""Frame sampling for captioners: which moments of a clip to look at, and how to group them.

Pure functions, no model imports. Frames are taken at the centres of equal time bins over the clip
(a clip cut from the middle of a long video keeps its source times), at least one, at most a cap.
`temporal_ids` turns frame timestamps into MiniCPM-V's 3D-resampler input: ids in units of 0.1 s,
measured from an origin (the clip start by default), grouped into packs of 1-6 consecutive frames;
each pack becomes 64 tokens. `fit_frame` shrinks a frame so its longest side and area fit the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vidrag.storage.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from PIL import Image

TIME_SCALE = 0.1
"""Seconds per temporal id unit (MiniCPM-V's TIME_SCALE)."""
MAX_PACKING = 6
"""Most frames the 3D resampler packs into one 64-token group."""
DEFAULT_MAX_SIDE = 448
DEFAULT_MAX_AREA = 448 * 448


def frame_count(duration: float, fps: float, max_frames: int | None = None) -> int:
    """How many frames a span of `duration` seconds gets at `fps`: at least 1, at most `max_frames`.

    Raises:
        InputError: `fps` is not positive, `duration` is negative, or `max_frames` < 1.
    """
    if not fps > 0 or math.isinf(fps):
        raise InputError(f"Frame rate must be a positive number of frames per second, got {fps!r}.")
    if duration < 0:
        raise InputError(f"Clip duration must not be negative, got {duration!r} s; check start < end.")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be at least 1, got {max_frames!r}.")
    count = max(1, round(duration * fps))
    return min(count, max_frames) if max_frames is not None else count


def frame_times(start: float, end: float, fps: float, max_frames: int | None = None) -> list[float]:
    """Source times of the frames to sample from [start, end): the centres of equal bins.

    The clip is split into `frame_count(end - start, fps, max_frames)` equal bins and one frame is
    taken at each bin's centre, so a long clip capped by `max_frames` is still covered end to end.

    Args:
        start: clip start, seconds in source time (may be deep inside a long video).
        end: clip end, seconds in source time.
        fps: wanted frames per second of video.
        max_frames: cap on the number of frames; None for no cap.

    Returns:
        Increasing times in seconds, all inside [start, end] (just `[start]` for an empty span).

    Raises:
        InputError: end < start, a negative start, or a bad fps / max_frames.
    """
    if start < 0 or end < start:
        raise InputError(f"Bad clip span {start!r}-{end!r} s: need 0 <= start <= end.")
    duration = end - start
    count = frame_count(duration, fps, max_frames)
    if duration == 0:
        return [float(start)]
    step = duration / count
    return [start + (i + 0.5) * step for i in range(count)]


def nearest_indices(available: Sequence[float], wanted: Sequence[float]) -> list[int]:
    """For each wanted time, the index of the nearest available time (both ascending).

    Repeats are dropped, so fewer indices come back when frames are scarcer than wanted.

    Raises:
        InputError: no available times.
    """
    if not available:
        raise InputError("No frames to choose from: the clip has no decoded frames.")
    chosen: list[int] = []
    j = 0
    for t in wanted:
        while j + 1 < len(available) and abs(available[j + 1] - t) <= abs(available[j] - t):
            j += 1
        if not chosen or chosen[-1] != j:
            chosen.append(j)
    return chosen


def select_frames(
    times: Sequence[float], start: float, end: float, fps: float, max_frames: int | None = None
) -> list[int]:
    """Indices of the decoded frames (at `times`) nearest the bin centres wanted at `fps`.

    Raises:
        InputError: no frames, or a bad span / fps (see `frame_times`).
    """
    return nearest_indices(list(times), frame_times(start, end, fps, max_frames))


def evenly_spaced(count: int, limit: int) -> list[int]:
    """`min(count, limit)` indices spread evenly over range(count), first bin centre first.

    Raises:
        InputError: limit < 1.
    """
    if limit < 1:
        raise InputError(f"limit must be at least 1, got {limit!r}.")
    if count <= limit:
        return list(range(count))
    return [min(count - 1, int((i + 0.5) * count / limit)) for i in range(limit)]


def check_packing(packing: int) -> int:
    """Validate a packing size (frames per 3D-resampler group).

    Raises:
        InputError: not an integer from 1 to 6.
    """
    if isinstance(packing, bool) or not isinstance(packing, int) or not 1 <= packing <= MAX_PACKING:
        raise InputError(
            f"Packing must be a whole number of frames from 1 to {MAX_PACKING}, got {packing!r}; "
            "MiniCPM-V-4.5 packs up to 6 consecutive frames into 64 tokens (3 is a good default)."
        )
    return packing


def temporal_ids(times: Sequence[float], packing: int, origin: float | None = None) -> list[list[int]]:
    """MiniCPM-V `temporal_ids` for frames at `times`: 0.1 s ids, grouped `packing` at a time.

    Args:
        times: frame times in seconds, ascending.
        packing: frames per group, 1-6; the last group may be shorter.
        origin: the time that id 0 stands for; defaults to the first frame's time rounded down to
            0.1 s. Pass the clip start so ids count from the start of the clip.

    Returns:
        One inner list per group; flattened, one id per frame, in frame order.

    Raises:
        InputError: bad packing, no times, times out of order, or a time before the origin.
    """
    check_packing(packing)
    if not times:
        raise InputError("No frame times to build temporal ids from; sample at least one frame.")
    if any(b < a for a, b in zip(times, times[1:])):
        raise InputError(f"Frame times must be in ascending order, got {list(times)!r}.")
    base = math.floor(times[0] / TIME_SCALE) * TIME_SCALE if origin is None else origin
    ids = []
    for t in times:
        tid = round((t - base) / TIME_SCALE)
        if tid < 0:
            raise InputError(f"Frame time {t!r} s is before the temporal origin {base!r} s.")
        ids.append(tid)
    return [ids[i : i + packing] for i in range(0, len(ids), packing)]


def group_count(frames: int, packing: int) -> int:
    """Number of 3D-resampler groups (64-token blocks) for `frames` frames at `packing`.

    Raises:
        InputError: bad packing.
    """
    check_packing(packing)
    return max(0, math.ceil(frames / packing))


def fit_size(
    width: int, height: int, max_side: int = DEFAULT_MAX_SIDE, max_area: int = DEFAULT_MAX_AREA
) -> tuple[int, int]:
    """The (width, height) a frame is shrunk to so both its longest side and area fit; never grows.

    Raises:
        InputError: a non-positive size or limit.
    """
    if width < 1 or height < 1 or max_side < 1 or max_area < 1:
        raise InputError(f"Bad frame size {width}x{height} or limits (max_side={max_side}, max_area={max_area}).")
    scale = min(1.0, max_side / max(width, height), math.sqrt(max_area / (width * height)))
    if scale >= 1.0:
        return width, height
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if w * h > max_area or max(w, h) > max_side:  # rounding up overshot: round down instead
        w, h = max(1, int(width * scale)), max(1, int(height * scale))
    return w, h


def fit_frame(
    frame: np.ndarray | Image.Image, max_side: int = DEFAULT_MAX_SIDE, max_area: int = DEFAULT_MAX_AREA
) -> Image.Image:
    """An RGB PIL image of `frame` (HxWx3 uint8 array or PIL image), shrunk to fit (see `fit_size`).

    Raises:
        InputError: the array is not HxWx3 (or HxW) uint8-compatible.
    """
    from PIL import Image

    if isinstance(frame, Image.Image):
        image = frame.convert("RGB")
    else:
        if getattr(frame, "ndim", 0) not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
            raise InputError(f"A frame must be an HxWx3 RGB array, got shape {getattr(frame, 'shape', None)!r}.")
        image = Image.fromarray(frame.astype("uint8", copy=False)).convert("RGB")
    size = fit_size(image.width, image.height, max_side, max_area)
    if size != (image.width, image.height):
        image = image.resize(size, Image.Resampling.BICUBIC)
    return image
