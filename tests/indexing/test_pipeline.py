"""The ingest pipeline on real files: bad input in a batch, idempotent re-runs, changed files,
an ingest killed mid-video and resumed."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import media
from vidrag.indexing import stages
from vidrag.indexing.asr import Transcriber
from vidrag.indexing.describe import Describer
from vidrag.indexing.embed import Embedder
from vidrag.indexing.ocr import OcrReader
from vidrag.indexing.pipeline import Indexer, IngestOptions
from vidrag.storage.catalog import Catalog
from vidrag.storage.edge_store import EdgeClipStore
from vidrag.storage.qdrant_store import Where


@pytest.fixture(scope="module")
def models():
    return Embedder(), Transcriber()


@pytest.fixture()
def indexer(tmp_path, models):
    embedder, transcriber = models
    store = EdgeClipStore(tmp_path / "qdrant", dim=embedder.dim)
    yield Indexer(
        store=store,
        catalog=Catalog(tmp_path / "catalog.sqlite"),
        embedder=embedder,
        transcriber=transcriber,
        captioner=Describer(),
        ocr=OcrReader(),
        cache_dir=tmp_path / "cache",
        options=IngestOptions(max_clip=4.0, min_clip=1.0),
    )
    store.close()


def _check_clips(indexer, video_id, duration):
    clips = indexer.store.clips(video_id)
    assert clips[0].start == 0.0
    assert clips[-1].end == pytest.approx(duration, abs=0.05)
    for before, after in zip(clips, clips[1:]):
        assert after.start == before.end
    assert all(c.end - c.start <= 4.0 + 1e-6 for c in clips)
    return clips


@pytest.mark.slow
def test_a_bad_batch_indexes_the_good_files_and_reports_the_rest(tmp_path, indexer):
    folder = tmp_path / "batch"
    folder.mkdir()
    bad = {
        media.text_as_mp4(folder): "not a readable media file",
        media.zero_length(folder): "empty",
        media.truncated(folder): "not a readable media file",
    }
    audio = media.audio_only(tmp_path)  # not a video suffix: found only when named directly
    bad[audio] = "audio only"
    good = [
        media.video_no_audio(folder),
        media.rotated_phone_video(folder),
        media.variable_frame_rate(folder),
        media.corrupt_audio_packet(folder),
    ]
    results = {Path(r.path).name: r for r in indexer.ingest([folder, audio, tmp_path / "missing.mp4"])}
    for path, message in bad.items():
        assert results[path.name].status == "failed"
        assert message in results[path.name].error and str(path.resolve()) in results[path.name].error
    assert results["missing.mp4"].status == "failed"
    for path in good:
        result = results[path.name]
        assert result.status == "indexed", result.error
        _check_clips(indexer, result.video_id, result.duration)
    assert set(indexer.catalog.failures()) >= {str(p.resolve()) for p in bad}
    corrupt = results["corrupt_audio.mp4"]
    spoken = " ".join(c.transcript for c in indexer.store.clips(corrupt.video_id)).lower()
    assert "fox" in spoken or "lazy" in spoken  # the speech survived the corrupt packet
    assert indexer.catalog.get_video(results["vfr.mp4"].video_id).cuts == [pytest.approx(2.0, abs=0.1)]
    vfr = results["vfr.mp4"]
    assert vfr.duration == pytest.approx(4.0, abs=0.05)


@pytest.mark.slow
def test_reingest_is_idempotent_and_a_changed_file_replaces_its_clips(tmp_path, indexer):
    path = media.speech_video(tmp_path, text="Budget Review")
    first = indexer.ingest_file(path)
    points = indexer.store.count()
    assert first.status == "indexed" and first.clips >= 1
    assert indexer.ingest_file(path).status == "unchanged"
    os.utime(path, None)  # touched but same bytes: re-hashed, same id, same points
    assert indexer.ingest_file(path).video_id == first.video_id
    assert indexer.store.count() == points
    media.speech_video(tmp_path, text="Hiring Plan", sentence="We will hire three engineers this spring.")
    changed = indexer.ingest_file(path)
    assert changed.status == "indexed" and changed.video_id != first.video_id
    assert indexer.store.point_ids(first.video_id) == set()
    assert [r.id for r in indexer.catalog.list_videos()] == [changed.video_id]
    assert "Hiring Plan" in " ".join(c.ocr for c in indexer.store.clips(changed.video_id))


def _ingest_command(home: Path, *paths: Path) -> list[str]:
    return [sys.executable, "-m", "vidrag.api.cli", "ingest", "--quiet", "--json", *map(str, paths)]


def _env(home: Path) -> dict:
    return {**os.environ, "VIDRAG_HOME": str(home), "VIDRAG_SEGMENT__MAX_CLIP": "6", "HF_HUB_OFFLINE": "1"}


def _wait_for_indexing(catalog: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(catalog) as db:
                    rows = db.execute("SELECT status FROM videos").fetchall()
            except sqlite3.OperationalError:
                rows = []
            if any(status == "indexing" for (status,) in rows):
                time.sleep(1.0)  # well inside the video
                return
        time.sleep(0.1)
    raise AssertionError("ingest never reached a video in progress")


def test_killed_ingest_resumes_without_duplicates(tmp_path, sample_dir):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(sample_dir / "solar_system.mp4", folder / "solar_system.mp4")
    home = tmp_path / "home"
    process = subprocess.Popen(
        _ingest_command(home, folder),
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    _wait_for_indexing(home / "catalog.sqlite", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = subprocess.run(
        _ingest_command(home, folder),
        env=_env(home),
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        check=True,
    )
    results = json.loads(done.stdout)["results"]
    assert {r["status"] for r in results} <= {"indexed", "unchanged"}
    # A clean ingest elsewhere gives exactly the same points: nothing duplicated, nothing missing.
    clean_home = tmp_path / "clean"
    subprocess.run(
        _ingest_command(clean_home, folder),
        env=_env(clean_home),
        capture_output=True,
        cwd=Path(__file__).parents[2],
        check=True,
    )
    assert _point_ids(home) == _point_ids(clean_home)
    assert len(_point_ids(home)) == sum(r["clips"] for r in results) + len(results)


def _point_ids(home: Path) -> set[str]:
    store = EdgeClipStore(home / "qdrant" / "vidrag_clips", dim=384)
    try:
        return {pid for pid, _ in store._scroll(Where())}
    finally:
        store.close()


class _DeafTranscriber(Transcriber):
    """The failure seen on some machines: the voice-activity detector hears speech, the model returns nothing."""

    def transcribe(self, audio):
        heard = super().transcribe(audio)
        return type(heard)(language=None, segments=[], speech_seconds=heard.speech_seconds)


@pytest.mark.slow
def test_speech_the_model_loses_is_reported_not_stored_as_silence(tmp_path, models):
    embedder, _ = models
    path = media.speech_video(tmp_path, sentence="Welcome to the budget meeting. " * 3)
    store = EdgeClipStore(tmp_path / "qdrant", dim=embedder.dim)
    indexer = Indexer(
        store=store,
        catalog=Catalog(tmp_path / "catalog.sqlite"),
        embedder=embedder,
        transcriber=_DeafTranscriber(),
        captioner=Describer(),
        ocr=None,
        cache_dir=tmp_path / "cache",
    )
    try:
        result = indexer.ingest_file(path)
        assert result.status == "indexed"
        assert len(result.warnings) == 1 and "speech lost" in result.warnings[0], result.warnings
        assert indexer.catalog.get_video(result.video_id).warnings == result.warnings
        assert not list((tmp_path / "cache").rglob("transcript-*.json"))  # read again next time
        again = indexer.ingest_file(path)  # a video that lost speech is read again, not skipped as unchanged
        assert again.status == "indexed" and again.warnings == result.warnings
    finally:
        store.close()


def test_the_library_reads_the_transcripts_where_the_ingest_caches_them(tmp_path):
    written = [stages.transcript_cache(tmp_path, "vid", model) for model in ("large-v3", "Systran/whisper base")]
    for path in written:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert stages.cached_transcripts(tmp_path, "vid") == sorted(written)
    assert stages.cached_transcripts(tmp_path, "other") == []
