"""Reading media: probe a file, decode its frames once in order, extract its audio once.

Frames come from decord (the `decord2` wheel) with PyAV as the fallback; both yield frames in
display orientation (rotation metadata applied) with their exact source timestamps, so variable
frame rate files get true times. Audio is extracted with ffmpeg (PyAV if ffmpeg is missing), which
tolerates corrupt packets that faster-whisper's own decoder turns into silence.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

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


SEGMENT_S = 60.0
"""Seconds of video one decoder reads before it seeks to its next segment."""
QUEUE_FRAMES = 8
"""Decoded frames a segment holds ready ahead of the frame consumer."""


def iter_frames(
    path: str | Path,
    info: MediaInfo,
    backend: str = "auto",
    *,
    decoders: int = 1,
    segment_s: float = SEGMENT_S,
    queue_frames: int = QUEUE_FRAMES,
) -> Iterator[tuple[float, np.ndarray]]:
    """Every frame of the video once, in order, as (source time in seconds, RGB uint8 array).

    With one decoder ("auto" or "pyav") PyAV reads in a thread of its own, at most `queue_frames`
    frames ahead of the caller: decoding overlaps the caller's work and memory does not follow the
    video. decord is not used for this: its reader decodes ahead of a slower caller without bound (the
    sample library's ingest peaked at 2.76 GB through it, 1.13 GB through the bounded reader). With
    decord and `decoders` > 1 the video is read in segments of `segment_s` seconds by that many
    threads, each seeking to its segment's first frame, ahead of the caller by at most `queue_frames`
    frames a segment: the frames are those of one sequential read.

    Args:
        path: the video file.
        info: its probe (for rotation).
        backend: "decord", "pyav" or "auto" (PyAV with one decoder, decord with more; the other one
            when the first cannot open the file).
        decoders: decoder threads (decord; PyAV reads in one pass with its own threads).
        segment_s: seconds of video per segment.
        queue_frames: decoded frames ready ahead of the caller (a segment's, with decord).

    Raises:
        InputError: neither backend can decode the file.
    """
    pyav_failed: InputError | None = None
    if backend == "pyav" or (backend == "auto" and decoders <= 1):
        handed = False
        try:
            for item in _read_ahead(_pyav_frames(path, info), max(1, queue_frames)):
                handed = True
                yield item
            return
        except InputError as err:
            if handed or backend == "pyav":
                raise
            pyav_failed = err
            log.info("PyAV cannot read %s (%s); decoding with decord", path, err)
    try:
        yield from _decord_frames(path, info, max(1, decoders), segment_s, max(1, queue_frames))
        return
    except _DecordUnavailable as err:
        if backend == "decord":
            raise InputError(f"{path}: decord cannot read it ({err}); use backend 'pyav'.") from err
        if pyav_failed is not None:  # both backends refused the file
            raise pyav_failed from err
        log.info("decord cannot read %s (%s); decoding with PyAV", path, err)
    yield from _pyav_frames(path, info)


class _Failed(NamedTuple):
    error: BaseException


def _read_ahead(items: Iterator, ahead: int) -> Iterator:
    """`items` produced in a thread of their own, at most `ahead` ready before the caller takes them.

    The producer's error is raised in the caller, after the items before it; when the caller stops
    early, the producer stops at its next item and closes `items` in its own thread.
    """
    ready: queue.Queue = queue.Queue(ahead)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as err:  # noqa: BLE001 - handed to the caller, which raises it
            put(_Failed(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class _DecordUnavailable(Exception):
    pass


def _open_decord(path: str | Path):
    try:
        import decord

        return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as err:  # decord raises its own DECORDError and RuntimeError
        raise _DecordUnavailable(str(err)) from err


def _decord_frames(
    path: str | Path, info: MediaInfo, decoders: int, segment_s: float, queue_frames: int
) -> Iterator[tuple[float, np.ndarray]]:
    first = _open_decord(path)
    try:
        count = len(first)
        stamps = first.get_frame_timestamp(list(range(count)))[:, 0] if count else np.zeros(0)
    except Exception as err:  # decord's own error types
        raise _DecordUnavailable(str(err)) from err
    last = -1.0  # the time of the last frame handed out
    try:
        if decoders == 1:  # in this thread, a frame when asked
            for index in range(count):
                try:
                    frame = first.next().asnumpy()
                except StopIteration:
                    raise _DecodeStopped(index, "the stream ended early") from None
                except Exception as err:  # decord's own error types
                    raise _DecodeStopped(index, str(err)) from err
                last = round(float(stamps[index]), 4)
                yield last, _upright(frame, info)
            return
        per = max(1, round(segment_s * (info.fps or 25.0)))
        segments = [(start, min(count, start + per)) for start in range(0, count, per)]
        reading = _SegmentReader(path, first, decoders, queue_frames)
        try:
            for index, frame in reading.frames(segments):
                last = round(float(stamps[index]), 4)
                yield last, _upright(frame, info)
        finally:
            reading.close()
    except _DecodeStopped as stopped:
        # Where decord stops in a damaged file depends on how far its decoder thread had read ahead
        # (frame 14 on one machine, 51 on another, for the same file), so the rest is read with PyAV,
        # which decodes packet by packet and stops at the same frame on every run.
        log.warning("%s: decord stopped at frame %d (%s); reading the rest with PyAV", path, stopped.index, stopped)
        rest, end = 0, max(last, 0.0)
        for t, frame in _pyav_frames(path, info, start=end):
            if t > last + 0.5 / (info.fps or 25.0):
                rest, end = rest + 1, t
                yield t, frame
        log.warning("%s: the frames end at frame %d (%.2f s)", path, stopped.index + rest, end)


class _DecodeStopped(Exception):
    """decord could not go on at frame `index` (a damaged tail, or a stream that ended early)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index


_END = object()  # a segment is done


class _Stopped(NamedTuple):
    """A segment's decoder could not go on at frame `frame`: nothing after it is handed out."""

    frame: int
    reason: str


class _SegmentReader:
    """Segments of frame indices decoded by a pool of threads (one decord reader each), handed out
    in order through one bounded queue per segment; at most `decoders + 1` segments are in flight.

    A decode error ends the stream at that frame, as a sequential read would (a damaged tail).
    """

    def __init__(self, path: str | Path, first, decoders: int, queue_frames: int) -> None:
        self.path, self.queue_frames = path, queue_frames
        self.decoders = decoders
        self.pool = ThreadPoolExecutor(decoders, thread_name_prefix="decode")
        self.stop = threading.Event()
        self.local = threading.local()
        self.spare = [first]  # the probe's reader, taken by the first thread that needs one
        self.lock = threading.Lock()

    def frames(self, segments: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        ahead: deque[queue.Queue] = deque()
        upcoming = iter(segments)
        for segment in upcoming:
            ahead.append(self._start(segment))
            if len(ahead) > self.decoders:
                break
        while ahead:
            current = ahead.popleft()
            for segment in upcoming:
                ahead.append(self._start(segment))
                break
            while (item := current.get()) is not _END:
                if isinstance(item, _Stopped):
                    raise _DecodeStopped(item.frame, item.reason)
                yield item

    def _start(self, segment: tuple[int, int]) -> queue.Queue:
        out: queue.Queue = queue.Queue(self.queue_frames)
        self.pool.submit(self._decode, segment, out)
        return out

    def _reader(self):
        reader = getattr(self.local, "reader", None)
        if reader is None:
            with self.lock:
                reader = self.spare.pop() if self.spare else _open_decord(self.path)
            self.local.reader, self.local.position = reader, 0
        return reader

    def _decode(self, segment: tuple[int, int], out: queue.Queue) -> None:
        start, end = segment
        index = start
        try:
            reader = self._reader()
            if self.local.position != start:
                reader.seek_accurate(start)
            for index in range(start, end):
                frame = reader.next().asnumpy()
                self.local.position = index + 1
                if not self._put(out, (index, frame)):
                    return
        except StopIteration:
            self.local.position = -1
            self._put(out, _Stopped(index, "the stream ended early"))
        except Exception as err:  # noqa: BLE001 - a damaged tail ends the stream, not the ingest
            self.local.position = -1
            self._put(out, _Stopped(index, str(err)))
        self._put(out, _END)

    def _put(self, out: queue.Queue, item: object) -> bool:
        while not self.stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _upright(frame: np.ndarray, info: MediaInfo) -> np.ndarray:
    """decord2 already applies the display matrix; rotate only if it handed back coded orientation."""
    if info.rotation in (90, 270) and frame.shape[0] != info.height:
        return orient(frame, info.rotation)
    return frame


def frame_at(path: str | Path, seconds: float) -> np.ndarray | None:
    """The frame shown at `seconds` (the first at or after it), RGB in display orientation; None when
    the video ends before `seconds`.

    Raises:
        InputError: the file is not a readable video.
    """
    info = probe(path)
    for t, frame in _pyav_frames(path, info, start=seconds):
        if t + 1e-6 >= seconds:
            return frame
    return None


def _pyav_frames(path: str | Path, info: MediaInfo, start: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
    """Frames with their times, upright, from the keyframe at or before `start` on."""
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise InputError(f"{path}: cannot be decoded ({err}); re-encode it.") from err
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            base = float(stream.time_base) if stream.time_base else 1e-6  # microseconds when unset
            container.seek(int(start / base), stream=stream, backward=True)
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
        command = _audio_command(ffmpeg, path)
        result = subprocess.run(command, capture_output=True, check=False)
        if result.stdout:
            if result.returncode:
                log.warning("%s: ffmpeg reported audio errors: %s", path, result.stderr[-300:])
            return np.frombuffer(result.stdout, dtype=np.float32).copy()
    return _pyav_audio(path)


def _audio_command(ffmpeg: str, path: str | Path) -> list[str]:
    """ffmpeg writing the audio track to stdout as 16 kHz mono float32."""
    return [
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


AUDIO_WINDOW_S = 600.0
"""Seconds of audio `iter_audio` hands out at a time (a shorter track comes whole, as `load_audio` reads it)."""


def iter_audio(
    path: str | Path, info: MediaInfo | None = None, window_s: float = AUDIO_WINDOW_S
) -> Iterator[tuple[float, np.ndarray]]:
    """The audio track as 16 kHz mono float32 in windows of at most `window_s` seconds: (start, samples).

    A window ends at the quietest 0.2 s of its last tenth, so it seldom splits a word; memory holds
    one window, however long the track. A track no longer than a window comes whole, exactly as
    `load_audio` returns it. Nothing comes for a file without audio.
    """
    if info is not None and not info.has_audio:
        return
    try:
        ffmpeg = ffmpeg_exe()
    except BackendUnavailable:
        ffmpeg = None
    window = max(SAMPLE_RATE, int(window_s * SAMPLE_RATE))
    if ffmpeg is None:
        yield from _windows(_pyav_audio(path), window)
        return
    import tempfile

    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(_audio_command(ffmpeg, path), stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        buffered, start, got_any = np.zeros(0, dtype=np.float32), 0, False
        try:
            while chunk := process.stdout.read(4 * window):
                got_any = True
                if len(chunk) % 4:  # a pipe read may end mid-sample
                    chunk += process.stdout.read(4 - len(chunk) % 4)
                fresh = np.frombuffer(chunk, dtype=np.float32)[: len(chunk) // 4]
                buffered = np.concatenate([buffered, fresh]) if buffered.size else fresh
                while buffered.size > window:
                    cut = _quiet_cut(buffered, window)
                    yield start / SAMPLE_RATE, buffered[:cut].copy()
                    buffered, start = buffered[cut:], start + cut
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
            code = process.wait()
        if code and got_any:
            errors.seek(0)
            log.warning("%s: ffmpeg reported audio errors: %s", path, errors.read()[-300:])
    if not got_any:
        yield from _windows(_pyav_audio(path), window)
    elif buffered.size:
        yield start / SAMPLE_RATE, buffered if buffered.flags.writeable else buffered.copy()


def _quiet_cut(samples: np.ndarray, window: int, piece: int = SAMPLE_RATE // 5) -> int:
    """Where to end a window of `window` samples: the middle of the quietest `piece` in its last tenth."""
    low = window - window // 10
    pieces = samples[low : low + (window - low) // piece * piece].reshape(-1, piece)
    if not len(pieces):
        return window
    return low + int(np.argmin((pieces**2).mean(axis=1))) * piece + piece // 2


def _windows(audio: np.ndarray, window: int) -> Iterator[tuple[float, np.ndarray]]:
    start = 0
    while audio.size > window:
        cut = _quiet_cut(audio, window)
        yield start / SAMPLE_RATE, audio[:cut]
        audio, start = audio[cut:], start + cut
    if audio.size:
        yield start / SAMPLE_RATE, audio


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
