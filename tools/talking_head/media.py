"""Media I/O for talking heads: portraits in (image files, arrays, video frames), mp4s out (ffmpeg, PyAV).

FramePack's frames are encoded as H.264 through ffmpeg's stdin and muxed with the voice as AAC; PyAV
reads portrait frames from videos and probes the result.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from vidrag.indexing.media import ffmpeg_exe, frame_at
from vidrag.storage.errors import BackendUnavailable, InputError
from vidrag.tools.evidence import JSON

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL.Image import Image

MotionPipe: TypeAlias = Any  # Any: diffusers registers a pipeline's modules (`.transformer`) at run time
"""A FramePack pipeline (diffusers' `HunyuanVideoFramepackPipeline`): real, full-size random or tiny."""
Frames: TypeAlias = "NDArray[np.uint8]"
"""RGB frames, (F, H, W, 3) uint8."""
Portrait: TypeAlias = "str | Path | Image | NDArray[np.uint8] | tuple[str | Path, float]"
"""A portrait as a request gives it: an image file, a PIL image, an (H, W, 3) array or `(video, seconds)`."""


def grab_frame(video: Path | str, seconds: float) -> Image:
    """The frame of `video` shown at `seconds`, upright, as an RGB PIL image.

    Raises:
        InputError: the video cannot be read or is shorter than `seconds`.
    """
    from PIL import Image

    try:
        frame = frame_at(video, max(0.0, seconds))
    except (InputError, IndexError, OSError) as err:
        raise InputError(f"Cannot read a frame from video {video}: {err}; give a readable video file.") from err
    if frame is None:
        raise InputError(f"Video {video} has no frame at {seconds:.2f} s; pick a time inside the video.")
    return Image.fromarray(frame)


def load_portrait(image: Portrait) -> Image:
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
        return Image.fromarray(cast("NDArray[np.uint8]", image)).convert("RGB")
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


class FrameEncoder:
    """Encodes RGB frames as a silent H.264 (yuv420p) mp4 as they arrive, through ffmpeg's stdin.

    Only the chunk being written is held in memory, so a long video costs no more host memory than
    a short one. Use as a context manager: `close()` on success, `abort()` (kill, no file) on error.
    """

    def __init__(self, width: int, height: int, fps: float, out: Path) -> None:
        import tempfile

        self.out, self.frames = Path(out), 0
        self._log = tempfile.TemporaryFile()
        rate = str(Fraction(fps).limit_denominator(1001))
        args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", rate, "-i", "-"]
        args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "medium", str(out)]
        try:
            self._proc = subprocess.Popen(
                [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                stdin=subprocess.PIPE,
                stderr=self._log,
            )
        except OSError as err:
            raise BackendUnavailable(f"ffmpeg could not start: {err}; install ffmpeg or imageio-ffmpeg.") from err

    def write(self, frames: Frames) -> None:
        """Append (F, H, W, 3) uint8 RGB frames."""
        if frames.shape[0] == 0:
            return
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(frames.tobytes())
        except (BrokenPipeError, OSError) as err:
            raise BackendUnavailable(f"ffmpeg stopped taking frames: {self._error() or err}") from err
        self.frames += frames.shape[0]

    def close(self) -> Path:
        """Finish the file; raise BackendUnavailable if ffmpeg failed."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            raise BackendUnavailable(f"ffmpeg failed: {self._error()}")
        self._log.close()
        return self.out

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
        self.out.unlink(missing_ok=True)

    def _error(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-400:]


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


def probe(path: Path | str) -> dict[str, JSON]:
    """Codecs, durations (seconds) and frame count of an mp4's first video and audio streams (PyAV)."""
    import av

    info: dict[str, JSON] = {}
    with av.open(str(path)) as container:
        for kind in ("video", "audio"):
            streams = getattr(container.streams, kind)
            if streams:
                stream = streams[0]
                seconds = float(stream.duration * stream.time_base) if stream.duration else None
                info[kind] = {"codec": stream.codec_context.name, "duration": seconds, "frames": stream.frames}
    return info
