"""The `vidrag` command line as a user meets it: real processes, JSON on stdout, errors on stderr.

tests/test_cli_fast.py runs every command in-process (delete included) on the fast tier."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import media

pytestmark = pytest.mark.slow  # each test starts vidrag processes that import torch

ROOT = Path(__file__).parents[1]


def vidrag(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDRAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "vidrag.api.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    if check and result.returncode:
        raise AssertionError(f"vidrag {args} exited {result.returncode}: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    video = media.speech_video(
        folder, text="Hiring Plan", sentence="We will hire three engineers for the data platform this spring."
    )
    home = folder / "home"
    result = vidrag(home, "ingest", "--json", str(video), str(media.text_as_mp4(folder)))
    rows = json.loads(result.stdout)["results"]
    assert [r["status"] for r in rows] == ["indexed", "failed"]
    return home


def test_ingest_summary_and_failures(tmp_path):
    result = vidrag(tmp_path / "h", "ingest", str(media.zero_length(tmp_path)), check=False)
    assert result.returncode == 1
    assert "empty" in result.stderr and "0 indexed, 0 unchanged, 1 failed" in result.stdout


def test_videos_json(home):
    videos = json.loads(vidrag(home, "videos", "--json").stdout)
    assert len(videos) == 1
    assert videos[0]["status"] == "indexed" and videos[0]["clip_count"] >= 1


def test_search_json_has_the_documented_fields(home):
    hits = json.loads(vidrag(home, "search", "recruiting new staff", "--top-k", "3", "--json").stdout)
    assert hits, "no hits"
    hit = hits[0]
    assert {"video", "video_id", "start", "end", "score", "text"} <= set(hit)
    assert hit["video"].endswith("speech_video.mp4")
    assert isinstance(hit["start"], float) and hit["end"] > hit["start"]
    assert "engineers" in hit["text"].lower()


def test_search_plain_output_shows_timestamps(home):
    out = vidrag(home, "search", "hiring").stdout
    assert "speech_video.mp4 @ 00:00.0–" in out


def test_errors_go_to_stderr_with_a_nonzero_exit(home):
    result = vidrag(home, "search", "anything", "--video", "no-such-video", check=False)
    assert result.returncode == 2
    assert "Unknown video 'no-such-video'" in result.stderr and result.stdout == ""
    result = vidrag(home, "search", "   ", check=False)
    assert result.returncode == 2 and "query is empty" in result.stderr


def test_demo_ingests_the_samples_and_answers_with_cited_moments(tmp_path, sample_dir, sample_home):
    """README command 1's job: the sample library ingested, searched and a question answered.

    It runs on a copy of the session's ingested library (the ingest from scratch is the fixture's), so
    the suite ingests the samples once; the demo still builds, ingests (nothing changed), searches
    and answers in its own process."""
    shutil.copytree(sample_home, tmp_path / "home")
    result = vidrag(tmp_path / "home", "demo", "--folder", str(sample_dir), "--json")
    report = json.loads(result.stdout)
    assert [r["status"] for r in report["ingest"]] == ["unchanged"] * 9  # 7 lectures, 2 real clips
    assert report["hits"] and all(h["end"] > h["start"] for h in report["hits"])
    answer = report["answer"]
    assert answer["mode"] == "extractive"
    assert any(c["video"].endswith("tcp_networking.mp4") and c["start"] < 22.0 for c in answer["citations"])
    assert "handshake" in answer["answer"].lower()
    assert answer["answer"].startswith("tcp_networking.mp4 shows on screen: \u201cThe Three-Way Handshake\u201d")
    videos = json.loads(vidrag(tmp_path / "home", "videos", "--json").stdout)
    lectures = [v for v in videos if v["path"].endswith("tcp_networking.mp4")]
    assert lectures[0]["language"] == "en" and len(lectures[0]["cuts"]) == 4
