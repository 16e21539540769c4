"""Factories for awkward test media, each made on the spot with ffmpeg, espeak-ng or PyAV.

Every factory takes a folder (pytest's ``tmp_path``), writes one small file into it in well under
two seconds and returns its path. Each docstring says what is special about the file; the checks
that the file really is that way live in ``tests/test_media_factories.py``. Nothing here is
random: the same call writes the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from vidrag.samples.library import Segment, make_lecture, synthesize

SPEECH = "The quick brown fox jumps over the lazy dog while the band plays on."
SHOT_SOURCES = (
    "testsrc2=size=320x180:rate=25",
    "mandelbrot=size=320x180:rate=25",
    "color=c=0xC02020:size=320x180:rate=25,noise=alls=60",
    "smptehdbars=size=320x180:rate=25",
)
SHOT_LENGTH = 1.6
SHOT_CUTS = tuple(round(SHOT_LENGTH * i, 6) for i in range(1, len(SHOT_SOURCES)))


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly with ``args``; raise with its stderr when it fails."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("ffmpeg is missing: apt-get install -y ffmpeg")
    proc = subprocess.run([exe, "-nostdin", "-y", "-loglevel", "error", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {proc.stderr.decode()[-600:]}")


def _h264(path: Path, *extra: str) -> list[str]:
    """Output options for a small, fast H.264 (+ AAC when there is audio) mp4."""
    return [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-c:a",
        "aac",
        "-b:a",
        "48k",
        "-fflags",
        "+bitexact",
        "-map_metadata",
        "-1",
        *extra,
        str(path),
    ]


def _speech_wav(folder: Path, sentence: str, name: str = "speech.wav") -> Path:
    """espeak-ng speech of ``sentence`` as a WAV file in ``folder``."""
    wav = folder / name
    synthesize(sentence, wav)
    return wav


def text_as_mp4(folder: Path) -> Path:
    """A plain-text file named ``.mp4``: no container at all, nothing can demux it."""
    path = Path(folder) / "notes.mp4"
    path.write_text("These are meeting notes, not a video.\n" * 20)
    return path


def zero_length(folder: Path) -> Path:
    """An empty ``.mp4`` file (0 bytes), as left behind by a failed download."""
    path = Path(folder) / "empty.mp4"
    path.write_bytes(b"")
    return path


def truncated(folder: Path, faststart: bool = False) -> Path:
    """A real 4 s H.264/AAC mp4 cut to the first half of its bytes (an interrupted copy).

    With ``faststart=False`` (the default, as ffmpeg and most cameras write) the ``moov`` index is
    at the end, so the cut file has no index and no demuxer can read it ("moov atom not found").
    With ``faststart=True`` the index survives but points past the end: the first part decodes,
    then the data stops.
    """
    folder = Path(folder)
    whole = folder / "whole.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=4",
        *_h264(whole, *(["-movflags", "+faststart"] if faststart else [])),
    )
    data = whole.read_bytes()
    whole.unlink()
    path = folder / ("truncated_faststart.mp4" if faststart else "truncated.mp4")
    path.write_bytes(data[: len(data) // 2])
    return path


def audio_only(folder: Path, sentence: str = SPEECH, ext: str = "m4a") -> Path:
    """An audio-only file (AAC in ``.m4a`` or MP3 in ``.mp3``) of espeak-ng saying ``sentence``.

    There is no video stream, so there are no frames to cut shots from or OCR, only speech.
    """
    folder = Path(folder)
    wav = _speech_wav(folder, sentence)
    codec = ["-c:a", "libmp3lame", "-b:a", "64k"] if ext == "mp3" else ["-c:a", "aac", "-b:a", "48k"]
    path = folder / f"speech_only.{ext}"
    ffmpeg("-i", str(wav), *codec, "-fflags", "+bitexact", "-map_metadata", "-1", str(path))
    wav.unlink()
    return path


def video_no_audio(folder: Path, seconds: float = 3.0) -> Path:
    """A 320x180, 25 fps H.264 mp4 with a moving test pattern and no audio stream at all."""
    path = Path(folder) / "silent_video.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}", *_h264(path))
    return path


def rotated_phone_video(folder: Path, seconds: float = 2.0) -> Path:
    """A phone clip held upright: coded 640x360 with a 90-degree display-matrix rotation.

    Players show it as 360x640 portrait. The frames as decoded are landscape (text in them is
    sideways) unless the decoder applies the rotation, so width/height and OCR must honour it. It
    has a 440 Hz tone as audio. The rotation is a display matrix in the video track header
    (ffprobe: side data "Display Matrix", rotation 90; PyAV: ``frame.rotation``). ffmpeg 5.1 drops
    a ``rotate`` tag when it re-encodes, so the tag is set in a second, stream-copy pass.
    """
    folder = Path(folder)
    plain, path = folder / "phone_unrotated.mp4", folder / "phone_portrait.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=640x360:rate=30:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={seconds}",
        *_h264(plain),
    )
    ffmpeg(
        "-i", str(plain), "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=90", "-fflags", "+bitexact", str(path)
    )
    plain.unlink()
    return path


def variable_frame_rate(folder: Path) -> Path:
    """A genuinely variable-frame-rate mp4: 2 s at 10 fps then 2 s at 30 fps (4 s, 80 frames).

    Frame durations are 100 ms then 33.3 ms, written as-is (``-fps_mode passthrough``), so the
    container's average rate (20 fps) matches no frame; frame index / fps is not a timestamp.
    """
    path = Path(folder) / "vfr.mp4"
    graph = "[0:v]settb=1/30000[a];[1:v]settb=1/30000[b];[a][b]concat=n=2:v=1:a=0[v]"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=10:duration=2",
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=320x180:rate=30,trim=duration=2",
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-fps_mode",
        "passthrough",
        "-video_track_timescale",
        "30000",
        *_h264(path),
    )
    return path


def speech_video(
    folder: Path, sentence: str = SPEECH, text: str = "Hello OCR", size: tuple[int, int] = (640, 360)
) -> Path:
    """A 25 fps slide video: ``text`` drawn large on screen while espeak-ng says ``sentence``.

    Made with `vidrag.samples.library.make_lecture` as a single segment, so it lasts the speech plus
    0.6 s of silence, rounded up to a whole frame; the text is the slide's bold title.
    """
    path = Path(folder) / "speech_video.mp4"
    make_lecture(path, [Segment(title=text, narration=sentence, topic="test")], size=size)
    return path


def shots_video(folder: Path, sources: Sequence[str] = SHOT_SOURCES, shot_length: float = SHOT_LENGTH) -> Path:
    """Hard cuts between very different scenes, each ``shot_length`` s long (no audio, 25 fps).

    The default scenes: a moving colour test pattern, a Mandelbrot zoom, red static noise, HD colour
    bars, so the cuts fall at `SHOT_CUTS` (1.6, 3.2, 4.8 s) exactly, on frame boundaries. Within a
    shot the picture changes only gradually, so any other detected cut is a false one.
    """
    path = Path(folder) / "shots.mp4"
    frames = round(shot_length * 25)
    args: list[str] = []
    for source in sources:
        args += ["-f", "lavfi", "-i", source]
    chains = [f"[{i}:v]trim=end_frame={frames},setpts=PTS-STARTPTS,format=yuv420p[v{i}]" for i in range(len(sources))]
    joined = "".join(f"[v{i}]" for i in range(len(sources)))
    graph = ";".join(chains + [f"{joined}concat=n={len(sources)}:v=1:a=0[v]"])
    ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-r", "25", *_h264(path))
    return path


def audio_packets(path: Path) -> list[tuple[int, int]]:
    """Byte offset and size of each audio packet of ``path``'s first audio stream (PyAV)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pos, p.size) for p in container.demux(stream) if p.size and p.pos is not None]


def corrupt_audio_packet(folder: Path, sentence: str = SPEECH, packet: int = 1) -> Path:
    """A 320x180 H.264 + AAC speech mp4 whose audio packet number ``packet`` is garbage.

    The packet keeps its size and place; only its payload is overwritten with fixed pseudo-random
    bytes, so the container is intact and every video frame decodes. The AAC decoder rejects that
    one packet (InvalidDataError). ``faster_whisper.decode_audio`` stops at the first such error and
    silently returns the samples before it: with the default ``packet=1``, none. ``ffmpeg -i f -vn
    -ac 1 -ar 16000 -f f32le -`` logs the error, skips the packet and returns the full length.
    """
    import numpy as np

    folder = Path(folder)
    wav = _speech_wav(folder, sentence, "corrupt_speech.wav")
    path = folder / "corrupt_audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=30", "-i", str(wav), "-shortest", *_h264(path))
    wav.unlink()
    pos, size = audio_packets(path)[packet]
    data = bytearray(path.read_bytes())
    data[pos : pos + size] = np.random.default_rng(1234).integers(0, 256, size, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path
