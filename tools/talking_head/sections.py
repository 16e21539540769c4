"""FramePack's section arithmetic and resolution bucketing, as pure functions.

FramePack generates video one latent *section* at a time, so the pipeline does not return the
`num_frames` it is given: it rounds up to whole sections. With a latent window of `lws` latent frames
and the VAE's temporal compression of 4, one window covers `(lws - 1) * 4 + 1` pixel frames, the
pipeline runs `max(1, ceil(num_frames / window))` sections and returns `sections * lws * 4 + 1`
frames. To cover a voice track of D seconds we ask for whole windows, then trim the surplus. Nothing
here imports torch; every function is cheap and exact, so the CLI and tests can plan without a model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from vidrag.storage.errors import InputError

TEMPORAL_COMPRESSION = 4
"""Pixel frames per latent frame in HunyuanVideo's VAE."""

SIZE_MULTIPLE = 16
"""Height and width must be multiples of this (VAE spatial factor 8 times patch size 2)."""


def window_frames(latent_window_size: int, temporal: int = TEMPORAL_COMPRESSION) -> int:
    """Pixel frames one section window covers: `(lws - 1) * temporal + 1`.

    Raises:
        InputError: `latent_window_size` is below 2.
    """
    if latent_window_size < 2:
        raise InputError(f"latent_window_size must be at least 2, got {latent_window_size}; FramePack uses 9.")
    return (latent_window_size - 1) * temporal + 1


def sections_for(num_frames: int, latent_window_size: int) -> int:
    """Sections the pipeline runs for a `num_frames` request: `max(1, ceil(num_frames / window))`."""
    window = window_frames(latent_window_size)
    return max(1, -(-num_frames // window))


def frames_returned(num_frames: int, latent_window_size: int, temporal: int = TEMPORAL_COMPRESSION) -> int:
    """Frames the pipeline actually returns for a `num_frames` request: `sections * lws * 4 + 1`."""
    return sections_for(num_frames, latent_window_size) * latent_window_size * temporal + 1


def target_frames(duration: float, fps: float) -> int:
    """Frames that show `duration` seconds at `fps`, at least one.

    Raises:
        InputError: `duration` or `fps` is not positive.
    """
    if not duration > 0:
        raise InputError(f"Duration must be positive seconds, got {duration!r}; is the voice track empty?")
    if not fps > 0:
        raise InputError(f"fps must be positive, got {fps!r}; FramePack is trained for 30.")
    return max(1, round(duration * fps))


@dataclass(frozen=True)
class SectionPlan:
    """How to ask FramePack for enough frames to cover a duration, and how many to drop after.

    Attributes:
        target_frames: frames the final video keeps.
        sections: sections the pipeline will run.
        num_frames: the `num_frames` argument to pass.
        frames_returned: frames the pipeline will return.
        trim: frames dropped from the end (`frames_returned - target_frames`).
        latent_window_size: the window the plan was made for.
        fps: frames per second of the final video.
    """

    target_frames: int
    sections: int
    num_frames: int
    frames_returned: int
    trim: int
    latent_window_size: int
    fps: float

    def as_dict(self) -> dict[str, int | float]:
        """The plan as plain JSON-ready values."""
        return asdict(self)


def plan_sections(duration: float, fps: float = 30.0, latent_window_size: int = 9) -> SectionPlan:
    """Plan a FramePack call that covers `duration` seconds at `fps`.

    Each section adds `lws * 4` frames after the first one, so `k = ceil((N - 1) / (lws * 4))`
    sections cover N frames; passing `num_frames = k * window` makes the pipeline run exactly k.
    With lws 9 at 30 fps: k = ceil((30 D - 1) / 36), num_frames = 33 k.

    Args:
        duration: seconds to cover (the voice track's length).
        fps: frames per second of the output video.
        latent_window_size: latent frames per section (FramePack uses 9).

    Returns:
        The plan; `frames_returned >= target_frames` always holds.

    Raises:
        InputError: a non-positive duration or fps, or a window below 2.
    """
    wanted = target_frames(duration, fps)
    window = window_frames(latent_window_size)
    per_section = latent_window_size * TEMPORAL_COMPRESSION
    sections = max(1, -(-(wanted - 1) // per_section))
    num_frames = sections * window
    returned = frames_returned(num_frames, latent_window_size)
    return SectionPlan(
        target_frames=wanted,
        sections=sections,
        num_frames=num_frames,
        frames_returned=returned,
        trim=returned - wanted,
        latent_window_size=latent_window_size,
        fps=fps,
    )


def split_parts(sections: int, max_part_sections: int) -> list[int]:
    """Split `sections` into pipeline calls of at most `max_part_sections` each, as even as possible.

    Longer parts come first; the counts sum to `sections`. `split_parts(20, 8)` is `[7, 7, 6]`.

    Raises:
        InputError: `sections` or `max_part_sections` below 1.
    """
    if sections < 1 or max_part_sections < 1:
        raise InputError(f"Cannot split {sections} sections into parts of at most {max_part_sections}.")
    parts = -(-sections // max_part_sections)
    base, extra = divmod(sections, parts)
    return [base + 1] * extra + [base] * (parts - extra)


def check_size(width: int, height: int) -> None:
    """Refuse a size FramePack cannot make.

    Raises:
        InputError: a side is not a positive multiple of 16.
    """
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % SIZE_MULTIPLE:
            nearest = max(SIZE_MULTIPLE, round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE)
            raise InputError(
                f"{name} must be a positive multiple of {SIZE_MULTIPLE}, got {value}; "
                f"use {nearest}, or leave the size unset to bucket the portrait's size automatically."
            )


def bucket_size(width: int, height: int, target_area: int = 640 * 640) -> tuple[int, int]:
    """Pick a generation size near `target_area` pixels, keeping the portrait's aspect ratio.

    Both sides are rounded to multiples of 16 (at least 16), so the aspect ratio is kept to within
    rounding; a 3:4 portrait at the default area gives 560x736 (FramePack's own buckets are close).

    Args:
        width: the portrait's width in pixels.
        height: the portrait's height in pixels.
        target_area: wanted width * height of the video (640*640 is FramePack's default bucket).

    Returns:
        (width, height), each a multiple of 16.

    Raises:
        InputError: a non-positive side or area.
    """
    if width <= 0 or height <= 0 or target_area <= 0:
        raise InputError(f"Cannot bucket a {width}x{height} image to area {target_area}; sizes must be positive.")
    aspect = width / height
    new_height = math.sqrt(target_area / aspect)
    new_width = new_height * aspect
    return _round16(new_width), _round16(new_height)


def _round16(value: float) -> int:
    return max(SIZE_MULTIPLE, int(round(value / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
