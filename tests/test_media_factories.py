"""Each factory in tests/media.py makes the file it claims to, quickly and deterministically."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests import media


def _probe(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=False,
    )


def _streams(path: Path) -> dict[str, dict]:
    proc = _probe(path)
    assert proc.returncode == 0, proc.stderr
    return {s["codec_type"]: s for s in json.loads(proc.stdout)["streams"]}


def _ffmpeg_audio(path: Path) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-v", "quiet", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
        capture_output=True,
        check=False,
    )
    return np.frombuffer(out.stdout, dtype="<f4")


def _video_frames(path: Path) -> list:
    import av

    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _has_speech(audio: np.ndarray) -> bool:
    return len(audio) > 16000 and float(np.sqrt(np.mean(audio**2))) > 0.02


FACTORIES = [
    "text_as_mp4",
    "zero_length",
    "truncated",
    "audio_only",
    "video_no_audio",
    "rotated_phone_video",
    "variable_frame_rate",
    "corrupt_audio_packet",
    "speech_video",
    "shots_video",
]


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_is_deterministic(name, tmp_path):
    # (how long a factory takes is not asserted: a wall-clock bound holds only on the machine it was set on)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    path = getattr(media, name)(first)
    assert path.parent == first and path.is_file()
    assert getattr(media, name)(second).read_bytes() == path.read_bytes()
    assert sorted(p.name for p in first.iterdir()) == [path.name]  # no leftovers


def test_text_as_mp4_is_not_media(tmp_path):
    path = media.text_as_mp4(tmp_path)
    assert path.suffix == ".mp4" and path.read_text().startswith("These are")
    assert _probe(path).returncode != 0


def test_zero_length(tmp_path):
    path = media.zero_length(tmp_path)
    assert path.stat().st_size == 0 and _probe(path).returncode != 0


def test_truncated_has_no_index(tmp_path):
    proc = _probe(media.truncated(tmp_path))
    assert proc.returncode != 0 and b"moov atom not found" in proc.stderr


def test_truncated_faststart_decodes_only_its_first_part(tmp_path):
    import av

    path = media.truncated(tmp_path, faststart=True)
    streams = _streams(path)
    assert int(streams["video"]["nb_frames"]) == 100  # the index still promises 4 s
    decoded = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                decoded += 1
        except av.error.FFmpegError:
            pass
    assert 10 < decoded < 90


@pytest.mark.parametrize("ext, codec", [("m4a", "aac"), ("mp3", "mp3")])
def test_audio_only_has_speech_and_no_video(tmp_path, ext, codec):
    path = media.audio_only(tmp_path, ext=ext)
    streams = _streams(path)
    assert set(streams) == {"audio"} and streams["audio"]["codec_name"] == codec
    assert _has_speech(_ffmpeg_audio(path))


def test_video_no_audio(tmp_path):
    streams = _streams(media.video_no_audio(tmp_path))
    assert set(streams) == {"video"} and streams["video"]["codec_name"] == "h264"


def test_rotated_phone_video_has_a_display_matrix(tmp_path):
    path = media.rotated_phone_video(tmp_path)
    video = _streams(path)["video"]
    assert (video["width"], video["height"]) == (640, 360)
    side = [d for d in video.get("side_data_list", []) if d["side_data_type"] == "Display Matrix"]
    assert side and abs(int(side[0]["rotation"])) == 90
    frame = _video_frames(path)[0]
    assert (frame.width, frame.height) == (640, 360) and abs(frame.rotation) == 90


def test_variable_frame_rate_has_mixed_frame_durations(tmp_path):
    frames = _video_frames(media.variable_frame_rate(tmp_path))
    times = np.array([f.time for f in frames])
    deltas = np.round(np.diff(times), 4)
    assert len(frames) == 80
    assert set(np.unique(deltas)) == {0.0333, 0.1}
    assert (deltas[:19] == 0.1).all() and (deltas[20:] == 0.0333).all()


def test_corrupt_audio_packet_defeats_faster_whisper_but_not_ffmpeg(tmp_path):
    from faster_whisper import decode_audio  # a core dependency: missing, the test fails, not skips

    path = media.corrupt_audio_packet(tmp_path)
    assert len(_video_frames(path)) > 25  # the video is intact
    full = _ffmpeg_audio(path)
    assert len(full) / 16000 > 3.0 and _has_speech(full)
    assert len(decode_audio(str(path))) < 0.01 * len(full)


def test_speech_video_says_and_shows_the_text(tmp_path):
    path = media.speech_video(tmp_path, sentence="Photosynthesis turns light into sugar.", text="Chlorophyll")
    streams = _streams(path)
    assert {"video", "audio"} <= set(streams) and streams["video"]["width"] == 640
    assert _has_speech(_ffmpeg_audio(path))
    assert shutil.which("tesseract"), "tesseract-ocr is not installed: run `bash .ci/setup test`"
    frame = _video_frames(path)[5].to_image()
    frame.save(tmp_path / "frame.png")
    ocr = subprocess.run(
        ["tesseract", str(tmp_path / "frame.png"), "-"],
        capture_output=True,
        env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert b"Chlorophyll" in ocr.stdout


def test_shots_video_cuts_exactly_where_documented(tmp_path):
    frames = _video_frames(media.shots_video(tmp_path))
    gray = np.stack([f.to_ndarray(format="gray").astype(np.float32) for f in frames])
    change = np.abs(np.diff(gray, axis=0)).mean(axis=(1, 2))
    cut_frames = sorted(int(i) + 1 for i in np.argsort(change)[-len(media.SHOT_CUTS) :])
    assert cut_frames == [round(t * 25) for t in media.SHOT_CUTS]
    inside = np.delete(change, [i - 1 for i in cut_frames])
    assert change[[i - 1 for i in cut_frames]].min() > 4 * inside.max()
    assert len(frames) == 25 * media.SHOT_LENGTH * len(media.SHOT_SOURCES)
