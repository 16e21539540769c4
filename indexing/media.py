"""Reading media: probe a file, decode its frames once in order, extract its audio once.

Frames come from decord (the `decord2` wheel) with PyAV as the fallback; both yield frames in
display orientation (rotation metadata applied) with their exact source timestamps, so variable
frame rate files get true times. Audio is extracted with ffmpeg (PyAV if ffmpeg is missing), which
tolerates corrupt packets that faster-whisper's own decoder turns into silence.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vidrag.storage.errors import BackendUnavailable, InputError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


@dataclass
class MediaInfo:
    """What a probe found: display size (after rotation), timing and streams."""

    path: str
    duration: float
    fps: float
    frame_count: int
    width: int
    height: int
    rotation: int
    has_video: bool
    has_audio: bool
    variable_frame_rate: bool
    codec: str

    def to_dict(self) -> dict:
        return asdict(self)


def probe(path: str | Path) -> MediaInfo:
    """Open a media file and describe it.

    Raises:
        InputError: the file is missing, empty, not media, or has no decodable video frames.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path.")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); re-copy or re-export it.")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise InputError(
            f"{path}: not a readable media file ({err}); check that it is a video, "
            "or re-encode it (e.g. `ffmpeg -i in -c:v libx264 -c:a aac out.mp4`)."
        ) from err
    with container:
        return _probe_container(path, container)


def _probe_container(path: Path, container) -> MediaInfo:
    import av

    has_audio = bool(container.streams.audio)
    if not container.streams.video:
        what = "audio only" if has_audio else "no video stream"
        raise InputError(f"{path}: {what}; vidrag indexes videos — give a file with a video track.")
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
    duration = _duration(container, stream)
    first, vfr = None, False
    try:
        times = []
        for frame in container.decode(stream):
            first = first or frame
            times.append(frame.time)
            if len(times) >= 48:
                break
        deltas = np.diff([t for t in times if t is not None])
        vfr = bool(len(deltas) > 2 and (deltas.max() - deltas.min()) > 0.5 * max(deltas.mean(), 1e-6))
    except (av.FFmpegError, ValueError) as err:
        raise InputError(f"{path}: the video stream cannot be decoded ({err}); re-encode it.") from err
    if first is None:
        raise InputError(f"{path}: the video stream holds no decodable frames (truncated?); re-copy it.")
    rotation = int(round((getattr(first, "rotation", 0) or 0) / 90.0)) * 90 % 360
    width, height = first.width, first.height
    if rotation in (90, 270):
        width, height = height, width
    if duration <= 0 and rate:
        duration = (stream.frames or 0) / rate
    frame_count = int(stream.frames or round(duration * rate))
    return MediaInfo(
        path=str(path),
        duration=float(duration),
        fps=rate,
        frame_count=frame_count,
        width=width,
        height=height,
        rotation=rotation,
        has_video=True,
        has_audio=has_audio,
        variable_frame_rate=vfr,
        codec=stream.codec_context.name,
    )


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def orient(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a coded frame into display orientation (rotation in degrees counterclockwise)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k=turns)) if turns else frame


def iter_frames(path: str | Path, info: MediaInfo, backend: str = "auto") -> Iterator[tuple[float, np.ndarray]]:
    """Every frame of the video once, in order, as (source time in seconds, RGB uint8 array).

    Args:
        path: the video file.
        info: its probe (for rotation).
        backend: "decord", "pyav" or "auto" (decord, falling back to PyAV if it cannot open the file).

    Raises:
        InputError: neither backend can decode the file.
    """
    if backend in ("auto", "decord"):
        try:
            yield from _decord_frames(path, info)
            return
        except _DecordUnavailable as err:
            if backend == "decord":
                raise InputError(f"{path}: decord cannot read it ({err}); use backend 'pyav'.") from err
            log.info("decord cannot read %s (%s); decoding with PyAV", path, err)
    yield from _pyav_frames(path, info)


class _DecordUnavailable(Exception):
    pass


def _decord_frames(path: str | Path, info: MediaInfo) -> Iterator[tuple[float, np.ndarray]]:
    try:
        import decord

        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        count = len(reader)
        stamps = reader.get_frame_timestamp(list(range(count)))[:, 0] if count else []
    except Exception as err:  # decord raises its own DECORDError and RuntimeError
        raise _DecordUnavailable(str(err)) from err
    for index in range(count):
        try:
            frame = reader.next().asnumpy()
        except StopIteration:
            return
        except Exception as err:  # noqa: BLE001 - a damaged tail ends the stream, not the ingest
            log.warning("%s: decoding stopped at frame %d (%s)", path, index, err)
            return
        yield round(float(stamps[index]), 4), _upright(frame, info)


def _upright(frame: np.ndarray, info: MediaInfo) -> np.ndarray:
    """decord2 already applies the display matrix; rotate only if it handed back coded orientation."""
    if info.rotation in (90, 270) and frame.shape[0] != info.height:
        return orient(frame, info.rotation)
    return frame


def _pyav_frames(path: str | Path, info: MediaInfo) -> Iterator[tuple[float, np.ndarray]]:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise InputError(f"{path}: cannot be decoded ({err}); re-encode it.") from err
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                yield float(frame.time), orient(frame.to_ndarray(format="rgb24"), info.rotation)
        except av.FFmpegError as err:
            log.warning("%s: decoding stopped early (%s)", path, err)


def ffmpeg_exe() -> str:
    """The ffmpeg program: the system one, else the one bundled with imageio-ffmpeg.

    Raises:
        BackendUnavailable: neither exists.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        raise BackendUnavailable(
            "ffmpeg is not installed; `apt-get install ffmpeg` or `pip install imageio-ffmpeg`."
        ) from err


def load_audio(path: str | Path, info: MediaInfo | None = None) -> np.ndarray:
    """The whole audio track as 16 kHz mono float32, decoded once; empty if there is none.

    Uses ffmpeg when there is one (it skips corrupt packets and keeps the timeline), else PyAV with
    per-packet error handling.
    """
    if info is not None and not info.has_audio:
        return np.zeros(0, dtype=np.float32)
    try:
        ffmpeg = ffmpeg_exe()
    except BackendUnavailable:
        ffmpeg = None
    if ffmpeg:
        command = [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-f",
            "f32le",
            "-",
        ]
        result = subprocess.run(command, capture_output=True, check=False)
        if result.stdout:
            if result.returncode:
                log.warning("%s: ffmpeg reported audio errors: %s", path, result.stderr[-300:])
            return np.frombuffer(result.stdout, dtype=np.float32).copy()
    return _pyav_audio(path)


def _pyav_audio(path: str | Path) -> np.ndarray:
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for packet in container.demux(container.streams.audio[0]):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue  # one corrupt packet must not silence the whole track
            for frame in frames:
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


def resize_to(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink a frame so its longest side is at most `max_side` (never enlarges)."""
    import cv2

    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def read_frames_at(path: str | Path, info: MediaInfo, times: list[float], max_side: int = 448) -> list[np.ndarray]:
    """Frames nearest to the given source times (random access), resized to fit `max_side`.

    Used to look again at a short span (the agent's inspect tool); ingest never calls it.

    Raises:
        InputError: the file cannot be decoded.
    """
    if not times:
        return []
    try:
        import decord

        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        stamps = reader.get_frame_timestamp(list(range(len(reader))))[:, 0]
        indices = [int(np.abs(stamps - t).argmin()) for t in times]
        batch = reader.get_batch(indices).asnumpy()
        return [resize_to(_upright(frame, info), max_side) for frame in batch]
    except Exception as err:  # noqa: BLE001 - decord's own error types; fall back to a PyAV scan
        log.info("decord random access failed on %s (%s); scanning with PyAV", path, err)
    wanted, out = sorted(times), []
    best: dict[int, tuple[float, np.ndarray]] = {}
    for t, frame in _pyav_frames(path, info):
        for i, target in enumerate(wanted):
            if i not in best or abs(t - target) < best[i][0]:
                best[i] = (abs(t - target), frame)
        if t > wanted[-1] + 1.0:
            break
    out = [resize_to(best[i][1], max_side) for i in range(len(wanted)) if i in best]
    if not out:
        raise InputError(f"{path}: no frames could be read near {times[0]:.2f}s; re-encode the file.")
    return out
