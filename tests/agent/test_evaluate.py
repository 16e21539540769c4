"""`vidrag eval`'s counting on a one-video library: the share answered on a QA file, the share of near
misses refused or flagged, and the JSON a script reads.

The library is real (decode, OCR, the Qdrant store, the extractive answerer) on the fast tier's stand-ins
for the two models it cannot load here (`tests.fakes`: a word-hash embedder, a transcriber that hears the
known sentence).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests import fakes, media
from vidrag.agent.evaluate import evaluate_near_miss, evaluate_one, load_near_miss, outcome
from vidrag.agent.prompts import NOT_FOUND
from vidrag.storage.errors import InputError

SENTENCE = "We will hire three engineers for the data platform this spring."
ANSWERABLE = "How many engineers will be hired?"
OFF_TOPIC = "What is the capital of France?"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The slide video ("Hiring Plan" on screen, the sentence spoken), ingested into a fresh home."""
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library

    folder = tmp_path_factory.mktemp("eval-video")
    video = media.speech_video(folder, text="Hiring Plan", sentence=SENTENCE)
    with pytest.MonkeyPatch.context() as patch:
        fakes.install(patch, SENTENCE)
        settings = Settings(home=tmp_path_factory.mktemp("eval-home"))
        library = open_library(settings, for_ingest=True)
        [result] = library.ingest([video])
        assert result.status == "indexed", result.error
        yield library, settings
        library.store.close()


@pytest.fixture
def files(tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps(
            {"question": ANSWERABLE, "video": "speech_video.mp4", "start": 0.0, "end": 30.0, "keywords": ["three"]}
        )
        + "\n"
    )
    near = tmp_path / "near.jsonl"
    near.write_text(
        json.dumps({"question": ANSWERABLE, "near": "speech_video.mp4", "absent": []})
        + "\n\n"
        + json.dumps({"question": OFF_TOPIC, "near": "speech_video.mp4", "absent": ["France"]})
        + "\n"
    )
    return qa, near


def test_outcome_is_the_answerers_or_read_from_the_not_found_opening():
    assert outcome({"answer": f"{NOT_FOUND}: nothing close."}) == "not_found"
    assert outcome({"answer": "speech_video.mp4 says: three engineers"}) == "answered"
    assert outcome({"answer": "The library never mentions France.", "outcome": "absent"}) == "absent"
    assert outcome({"answer": f"{NOT_FOUND}.", "outcome": "answered"}) == "answered"


def test_near_miss_file_is_checked(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_near_miss(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Fine?"}\n{"near": "x.mp4"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2 is not a near-miss record"):
        load_near_miss(bad)
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "Fine?"}\n')
    assert load_near_miss(good) == [{"question": "Fine?", "near": "", "absent": []}]


def test_near_misses_count_refused_and_answered(library, files):
    _, near = files
    report = evaluate_near_miss(library[0], near)
    assert (report["questions"], report["answered"], report["refused"], report["mode"]) == (2, 1, 0.5, "extractive")
    answered, refused = report["rows"]
    assert set(answered) == {"question", "near", "absent", "outcome", "answer"}
    assert (answered["question"], answered["outcome"]) == (ANSWERABLE, "answered")
    assert "three engineers" in answered["answer"] and len(answered["answer"]) <= 120
    assert (refused["question"], refused["absent"], refused["outcome"]) == (OFF_TOPIC, ["France"], "not_found")
    assert refused["answer"].startswith(NOT_FOUND)


def test_eval_command_reports_the_answered_share_and_the_near_misses(library, files, monkeypatch):
    from vidrag.api import cli_common
    from vidrag.api.cli import app

    monkeypatch.setattr(cli_common, "open_library", lambda for_ingest=False: library[0])
    monkeypatch.setattr(cli_common, "settings", lambda: library[1])
    qa, near = files
    out = CliRunner().invoke(app, ["eval", str(qa), "--near-miss", str(near), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data) == {"sets", "near_miss"}
    [qa_report] = data["sets"]
    assert qa_report["answered"] == 1.0 and qa_report["rows"][0]["outcome"] == "answered"
    [miss] = data["near_miss"]
    assert miss["near_miss_file"] == str(near)
    assert (miss["questions"], miss["refused"], miss["answered"]) == (2, 0.5, 1)
    assert [row["outcome"] for row in miss["rows"]] == ["answered", "not_found"]
    text = CliRunner().invoke(app, ["eval", "--near-miss", str(near)])
    assert text.exit_code == 0, text.output
    assert f"== near misses: {near}" in text.stdout and "== " + str(qa) not in text.stdout
    assert f"answered  {ANSWERABLE}  → " in text.stdout and OFF_TOPIC not in text.stdout
    assert "2 near-miss questions (extractive): refused or flagged 0.50, answered 1" in text.stdout


def test_a_refusal_that_quotes_the_fact_as_related_is_wrong_and_counted_apart(library):
    """A "never mentioned" answer whose related line holds the fact is not a right answer: the
    user was told the fact is not there. It is counted in `fact_in_refusal`."""
    record = {"question": ANSWERABLE, "video": "speech_video.mp4", "start": 0.0, "end": 30.0, "keywords": ["three"]}
    cited = [{"video": "speech_video.mp4", "start": 1.0, "end": 4.0, "quote": SENTENCE}]
    related = f"- related: “{SENTENCE}” [speech_video.mp4 @ 00:01.0–00:04.0]"
    rows = {
        said: evaluate_one(
            library[0],
            record,
            answer=lambda _, said=said, opening=opening: {
                "answer": f"{opening}\n{related}",
                "outcome": said,
                "citations": cited,
            },
        )
        for said, opening in [
            ("answered", "The plan says:"),
            ("absent", "The library never mentions “hired”."),
            ("not_found", f"{NOT_FOUND}: nothing close enough."),
        ]
    }
    assert all(row["keyword"] and row["cited"] for row in rows.values())
    assert (rows["answered"]["correct"], rows["answered"]["fact_in_refusal"]) == (True, False)
    for refused in ("absent", "not_found"):
        assert (rows[refused]["correct"], rows[refused]["correct_exact"]) == (False, False)
        assert (rows[refused]["fact_in_refusal"], rows[refused]["outcome"]) == (True, refused)
