"""State integrity is checked, never assumed (issue #22, items 2, 7, 8, 9): a lost or emptied store, a
read-only home, two ingests at once, a truncated file — through the CLI and the REST API.

Each test copies the session's ingested home (`hardened_home`: the real catalog and Qdrant Edge store,
the fast-tier fakes for the embedder and speech) and damages its copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import fakes
from tests.hardened import SENTENCE, copy_home, open_fake_library, written_library
from tests.test_cli_fast import vidrag


@pytest.fixture
def home(hardened_home, tmp_path, monkeypatch):
    """A copy of the ingested home as VIDRAG_HOME, the fakes installed for the in-process CLI."""
    copy = copy_home(hardened_home, tmp_path / "home")
    fakes.install(monkeypatch, SENTENCE)
    monkeypatch.setenv("VIDRAG_HOME", str(copy))
    monkeypatch.delenv("VIDRAG_QDRANT_URL", raising=False)
    monkeypatch.delenv("VIDRAG_LLM_URL", raising=False)
    return copy


def empty_the_store(home: Path, monkeypatch) -> None:
    """Delete every point of the store, leaving the folder and the catalog as they are."""
    library = open_fake_library(home, [], monkeypatch)
    try:
        for record in library.videos():
            library.store.delete_video(record.id)
        assert library.point_count() == 0
    finally:
        library.close()


@pytest.mark.slow  # re-ingests, processes: seconds each (the fast tier keeps under a minute)
@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_lost_store_is_reported_with_the_fix_then_repaired(home, hardened_files, monkeypatch, damage):
    if damage == "deleted":
        shutil.rmtree(home / "qdrant")
    else:
        empty_the_store(home, monkeypatch)

    searched = vidrag("search", "hire engineers")
    assert searched.code == 3 and searched.stdout == ""
    assert "missing from the store (the store is empty)" in searched.stderr
    assert "vidrag doctor --repair" in searched.stderr
    asked = vidrag("ask", "How many engineers will be hired?")
    assert asked.code == 3 and "could not find" not in asked.stdout + asked.stderr
    checked = vidrag("doctor", "--json")
    assert checked.code == 1
    report = checked.json()
    assert report["ok"] is False and report["store_points"] == 0 and len(report["damaged"]) == 2
    assert {v["status"] for v in report["videos"]} == {"indexed", "partial"}

    repaired = vidrag("doctor", "--repair")
    assert repaired.code == 0, repaired.stderr
    assert "2 videos indexed" in repaired.stdout and "consistent" in repaired.stdout, repaired
    hits = vidrag("search", "hire engineers", "--json").json()
    assert hits and "engineers" in hits[0]["transcript"]


@pytest.mark.slow  # re-ingests, processes: seconds each (the fast tier keeps under a minute)
def test_ingest_rebuilds_what_the_store_lacks_though_the_file_is_unchanged(home, hardened_files, monkeypatch):
    folder, video, _ = hardened_files
    assert vidrag("ingest", "--json", str(video)).json()["results"][0]["status"] == "unchanged"
    empty_the_store(home, monkeypatch)
    again = vidrag("ingest", "--json", str(video))
    assert again.code == 0 and again.json()["results"][0]["status"] == "indexed"
    assert vidrag("search", "hire engineers", "--json").json()[0]["video"].endswith("speech_video.mp4")


@pytest.mark.slow  # re-ingests, processes: seconds each (the fast tier keeps under a minute)
def test_ready_and_search_over_rest_say_the_store_is_broken(home, hardened_files, monkeypatch):
    from vidrag.api.app import ApiSettings, create_app

    shutil.rmtree(home / "qdrant")
    settings = ApiSettings(home=home, allowed_roots=[hardened_files[0]], api_key=None, llm_url=None, cors_origins=[])
    with TestClient(create_app(settings)) as http:
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert "missing from the store" in ready.json()["checks"]["qdrant"]["detail"]
        searched = http.post("/search", json={"query": "hire engineers"})
        assert searched.status_code == 503 and "vidrag doctor --repair" in searched.json()["message"]
        asked = http.post("/ask", json={"question": "How many engineers will be hired?"})
        assert asked.status_code == 503, asked.text
        listed = {v["name"]: v["status"] for v in http.get("/videos").json()}
        assert listed == {"speech_video.mp4": "indexed", "truncated_faststart.mp4": "partial"}


@pytest.mark.slow  # re-ingests, processes: seconds each (the fast tier keeps under a minute)
def test_the_ingest_summary_says_a_truncated_file_is_indexed_only_in_part(home, hardened_files):
    _, _, short = hardened_files
    run = vidrag("ingest", str(short))  # a partial video is retried on every ingest, and says so again
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("partial ")
    assert "1 indexed (1 only in part: the file decodes short of its length)" in run.stdout
    assert "decoded only" in run.stderr and "truncated or damaged" in run.stderr
    listed = {Path(v["path"]).name: v for v in vidrag("videos", "--json").json()}
    record = listed["truncated_faststart.mp4"]
    assert record["status"] == "partial" and 1.0 < record["duration"] < 3.0 and record["clip_count"] >= 1
    assert (
        record["warnings"][0].startswith("decoded only") and "of the 4.0 s the file declares" in record["warnings"][0]
    )


@pytest.fixture(scope="module")
def written_home(tmp_path_factory):
    """A home whose one video's points are written directly (`tests.hardened.written_library`), closed."""
    from tests import media

    folder = tmp_path_factory.mktemp("written-videos")
    home = tmp_path_factory.mktemp("written-home")
    written_library(home, media.video_no_audio(folder, seconds=2.0), [folder]).close()
    return home


@pytest.fixture
def cli_home(written_home, monkeypatch):
    fakes.install(monkeypatch, SENTENCE)
    monkeypatch.setenv("VIDRAG_HOME", str(written_home))
    monkeypatch.delenv("VIDRAG_QDRANT_URL", raising=False)
    monkeypatch.delenv("VIDRAG_LLM_URL", raising=False)
    return written_home


def test_non_finite_times_on_the_command_line_are_bad_input(cli_home):
    run = vidrag("search", "engineers", "--start", "nan")
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.strip() == "error: start must be a finite number of seconds, got nan; give e.g. start=0."


def test_ask_says_which_text_is_quoted_from_the_videos(cli_home):
    run = vidrag("ask", "How many engineers will be hired?")
    assert run.code == 0 and "“We will hire three engineers" in run.stdout
    assert "quoted from the videos" in run.stderr
    parts = vidrag("ask", "How many engineers will be hired?", "--json").json()["parts"]
    assert any(p["source"] == "video" and "three engineers" in p["text"] for p in parts)


def test_an_unusable_home_is_one_line_with_exit_3(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for where, cause in [(blocker / "home", "cannot be created"), (Path("/proc/self"), "is not writable")]:
        if not where.parent.exists():
            continue
        monkeypatch.setenv("VIDRAG_HOME", str(where))
        run = vidrag("videos")
        assert run.code == 3, (where, run)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and cause in lines[0] and "VIDRAG_HOME" in lines[0], run.stderr


@pytest.mark.slow  # re-ingests, processes: seconds each (the fast tier keeps under a minute)
def test_two_ingests_at_once_on_an_empty_home_one_indexes_and_one_says_the_store_is_busy(hardened_files, tmp_path):
    _, video, _ = hardened_files
    script = (
        "import sys, pytest\n"
        "from tests import fakes\n"
        f"fakes.install(pytest.MonkeyPatch(), {SENTENCE!r})\n"
        "from vidrag.api.cli import main\n"
        "sys.argv = ['vidrag', 'ingest', '-q', sys.argv[1]]\n"
        "main()\n"
    )
    env = {**os.environ, "VIDRAG_HOME": str(tmp_path / "home"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("VIDRAG_QDRANT_URL", None)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(video)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = sorted((run.wait(120), *run.communicate()) for run in runs)
    (ok, ok_out, _), (busy, busy_out, busy_err) = outcomes
    assert ok == 0 and "1 indexed" in ok_out, outcomes
    if busy == 0:  # the second started after the first had finished: then it found the file unchanged
        assert "1 unchanged" in busy_out or "1 indexed" in busy_out, outcomes
        return
    assert busy == 3, outcomes
    assert busy_err.strip().count("\n") == 0, busy_err
    # Which refusal comes depends on timing: once the first has noted itself as the holder the second names
    # it ("open in another process: pid …"); before that, the store's own lock error is quoted ("(pid …").
    assert "is open in another process: pid " in busy_err or "is in use by another vidrag process (pid " in busy_err, (
        busy_err
    )
