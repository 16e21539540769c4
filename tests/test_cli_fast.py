"""The `vidrag` command line in this process, on a one-video library: the fast tier's view of the CLI.

The models that take seconds to load are swapped for `tests.fakes` (a word-hash embedder and a
transcriber that hears a known script); decoding, OCR, the describer, the Qdrant store and the
catalog are real. tests/test_cli.py runs the same commands as real processes with the real models.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import fakes, media
from vidrag.api.cli import main

SENTENCE = "We will hire three engineers for the data platform this spring."


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def vidrag(*args: str) -> Run:
    """`vidrag ARGS` through the console entry point, with stdout and stderr captured apart."""
    out, err, code = io.StringIO(), io.StringIO(), 0
    handlers = logging.root.handlers[:]
    argv = sys.argv
    sys.argv = ["vidrag", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
        logging.root.handlers[:] = handlers  # main() configures logging onto the captured stderr
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def library_files(tmp_path_factory):
    """A slide video ("Hiring Plan" on screen, the sentence spoken) and a text file named .mp4."""
    folder = tmp_path_factory.mktemp("cli-fast")
    return media.speech_video(folder, text="Hiring Plan", sentence=SENTENCE), media.text_as_mp4(folder)


@pytest.fixture(scope="module")
def home(library_files, tmp_path_factory):
    """VIDRAG_HOME for the module, the fakes installed, the video and the bad file ingested once."""
    home = tmp_path_factory.mktemp("cli-fast-home")
    with pytest.MonkeyPatch.context() as patch:
        fakes.install(patch, SENTENCE)
        patch.setenv("VIDRAG_HOME", str(home))
        patch.delenv("VIDRAG_QDRANT_URL", raising=False)
        patch.delenv("VIDRAG_LLM_URL", raising=False)
        first = vidrag("ingest", "--json", *map(str, library_files))
        assert first.code == 0, first.stderr
        yield home, first


def test_ingest_reports_the_indexed_video_and_the_bad_file(home, library_files):
    _, first = home
    rows = first.json()["results"]
    assert [r["status"] for r in rows] == ["indexed", "failed"]
    assert rows[0]["clips"] >= 1 and rows[0]["duration"] > 3
    assert "notes.mp4" in rows[1]["error"]
    speed = first.json()["throughput"]
    assert (speed["indexed"], speed["failed"]) == (1, 1) and speed["media_s"] == pytest.approx(rows[0]["duration"])


def test_a_second_ingest_finds_the_video_unchanged(home, library_files):
    again = vidrag("ingest", str(library_files[0]))
    assert again.code == 0
    assert again.stdout.startswith("unchanged ") and "0 indexed, 1 unchanged, 0 failed." in again.stdout


def test_videos_lists_the_video_with_its_language(home):
    [video] = vidrag("videos", "--json").json()
    assert video["path"].endswith("speech_video.mp4") and video["status"] == "indexed"
    assert video["language"] == "en" and video["clip_count"] >= 1
    plain = vidrag("videos").stdout
    assert video["id"] in plain and "speech_video.mp4" in plain


def test_search_finds_the_spoken_words_and_the_slide(home):
    hits = vidrag("search", "hire engineers", "--json").json()
    assert hits and hits[0]["video"].endswith("speech_video.mp4") and hits[0]["start"] < hits[0]["end"]
    assert "engineers" in hits[0]["transcript"] and "Hiring Plan" in hits[0]["ocr"]
    plain = vidrag("search", "hiring plan").stdout
    assert plain.startswith("1. speech_video.mp4 @ 00:00.0–") and "score" in plain


def test_ask_answers_with_a_cited_moment(home):
    result = vidrag("ask", "How many engineers will be hired?", "--json").json()
    assert result["mode"] == "extractive"
    assert "three engineers" in result["answer"]
    [citation] = {c["video"]: c for c in result["citations"]}.values()
    assert citation["video"].endswith("speech_video.mp4") and citation["start"] < citation["end"]
    plain = vidrag("ask", "How many engineers will be hired?")
    assert "speech_video.mp4 @ 00:0" in plain.stdout and "(extractive," in plain.stderr


def test_bad_input_is_an_error_on_stderr_with_a_nonzero_exit(home):
    empty = vidrag("search", "   ")
    assert (empty.code, empty.stdout) == (2, "") and "query is empty" in empty.stderr
    unknown = vidrag("delete", "no-such-video")
    assert unknown.code != 0 and unknown.stdout == "" and "no-such-video" in unknown.stderr
    nothing = vidrag("ingest", str(Path(home[0]) / "missing.mp4"))
    assert nothing.code == 1 and "missing.mp4: no such file" in nothing.stderr


def test_delete_removes_the_video(home):
    [video] = vidrag("videos", "--json").json()
    assert vidrag("delete", video["id"][:8]).stdout.startswith(f"deleted {video['id']}")
    assert vidrag("videos", "--json").json() == []
    assert vidrag("search", "hire engineers", "--json").json() == []


def test_progress_bars_name_each_file_and_stage(capsys):
    from vidrag.api.cli_ingest import FileBars, RunBars
    from vidrag.indexing.pipeline import IngestResult

    bars = FileBars(enabled=True)
    bars("/v/first.mp4", "decode", 1, 2)
    bars("/v/second.mp4", "embed", 1, 1)
    bars.close()
    run = RunBars(enabled=True)
    run(IngestResult("/v/first.mp4", "indexed", "abc", 3, 12.5), 1, 2)
    run(IngestResult("/v/second.mp4", "failed", error="bad"), 2, 2)
    run.close()
    shown = capsys.readouterr().err
    assert "first.mp4" in shown and "second.mp4" in shown and "decode" in shown and "100%" in shown
    assert "videos" in shown and "2/2" in shown and "12.5" in shown
