"""Media I/O for talking heads: portraits in (image files, arrays, video frames), mp4s out (ffmpeg, PyAV).

FramePack's frames are encoded as H.264 through ffmpeg's stdin and muxed with the voice as AAC; PyAV
reads portrait frames from videos and probes the result.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from vidrag.indexing.media import ffmpeg_exe
from vidrag.storage.errors import BackendUnavailable, InputError


def grab_frame(video: Path | str, seconds: float) -> Any:
    """The frame of `video` shown at `seconds`, as an RGB PIL image (decoded with PyAV).

    Raises:
        InputError: the video cannot be read or is shorter than `seconds`.
    """
    import av

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            base = float(stream.time_base) if stream.time_base else 1e-6  # microseconds when unset
            container.seek(int(max(0.0, seconds) / base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is not None and frame.time + 1e-6 >= seconds:
                    return frame.to_image().convert("RGB")
    except (av.error.FFmpegError, IndexError, OSError) as err:
        raise InputError(f"Cannot read a frame from video {video}: {err}; give a readable video file.") from err
    raise InputError(f"Video {video} has no frame at {seconds:.2f} s; pick a time inside the video.")


def load_portrait(image: Any) -> Any:
    """An RGB PIL image from a path, a PIL image, an (H, W, 3) array or a `(video, seconds)` pair.

    Raises:
        InputError: the file is missing or is not an image.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, tuple):
        return grab_frame(*image)
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if hasattr(image, "shape"):
        return Image.fromarray(image).convert("RGB")
    try:
        with Image.open(Path(image)) as handle:
            return handle.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise InputError(
            f"Cannot read the portrait image {image}: {err}; give a PNG/JPEG file, or (video, seconds)."
        ) from err


def _run_ffmpeg(args: list[str], data: bytes | None = None) -> None:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], input=data, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise BackendUnavailable(f"ffmpeg failed: {result.stderr.decode(errors='replace').strip()[-400:]}")


def encode_frames(frames: Any, fps: float, out: Path) -> Path:
    """Encode (F, H, W, 3) uint8 RGB frames as a silent H.264 (yuv420p) mp4."""
    count, height, width, _ = frames.shape
    rate = str(Fraction(fps).limit_denominator(1001))
    _run_ffmpeg(
        [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            rate,
            "-i",
            "-",
            "-frames:v",
            str(count),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-crf",
            "18",
            "-preset",
            "medium",
            str(out),
        ],
        frames.tobytes(),
    )
    return out


def mux(video: Path, audio: Path, out: Path, duration: float, fps: float, reencode: bool = False) -> Path:
    """Mux `video` with `audio` as AAC (48 kHz), audio padded with silence or cut to `duration`.

    At 48 kHz one AAC frame is 21 ms, under one video frame at 30 fps, so the two streams end within
    a frame of each other. `reencode` re-encodes the video as H.264 (for a lip-sync tool's output).
    """
    video_codec = (
        ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-r", str(Fraction(fps).limit_denominator(1001))]
        if reencode
        else ["-c:v", "copy"]
    )
    _run_ffmpeg(
        [
            "-i",
            str(video),
            "-i",
            str(audio),
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            *video_codec,
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-af",
            "apad",
            "-t",
            f"{duration:.6f}",
            "-movflags",
            "+faststart",
            str(out),
        ]
    )
    return out


def probe(path: Path | str) -> dict[str, Any]:
    """Codecs, durations (seconds) and frame count of an mp4's first video and audio streams (PyAV)."""
    import av

    info: dict[str, Any] = {}
    with av.open(str(path)) as container:
        for kind in ("video", "audio"):
            streams = getattr(container.streams, kind)
            if streams:
                stream = streams[0]
                seconds = float(stream.duration * stream.time_base) if stream.duration else None
                info[kind] = {"codec": stream.codec_context.name, "duration": seconds, "frames": stream.frames}
    return info
