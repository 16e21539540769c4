"""The no-LLM path end to end on the sample library: answer figures, 'nothing found', follow-ups, CLI."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from typer.testing import CliRunner

from vidrag.agent import answer_question
from vidrag.agent.evaluate import evaluate
from vidrag.agent.prompts import NEVER_MENTIONED, NOT_FOUND, NOT_STATED


@pytest.fixture(scope="module", params=["sample_qa.jsonl", "heldout_qa.jsonl"])
def report(request, sample_library, sample_dir):
    return evaluate(sample_library, sample_dir / request.param)


def test_qa_figures_on_both_sample_sets(report):
    # Measured on the sample library with Whisper base (docs/agent.md): 0.857 and 1.00 answers with the
    # fact and a right citation, 0.810 and 1.00 with the exact keyword (the sample set's ceiling: 3 of its
    # 21 keywords are in no text the library holds; one answer says the library never mentions
    # "resuscitation", which it does not); the floors leave a question's room for another CPU.
    assert report["mode"] == "extractive" and report["questions"] >= 20
    assert report["recall_at_5"] >= 0.9
    assert report["recall_at_1"] >= 0.8
    assert report["mean_iou"] >= 0.3
    assert report["answer_with_citation"] >= 0.8
    assert report["answer_with_citation_exact"] >= 0.75
    assert report["keyword_in_library_exact"] >= 0.8
    assert all(r["answer"] and not r["answer"].startswith(NOT_FOUND) for r in report["rows"])


def test_answers_lead_with_one_quote_then_marked_supporting_quotes(report):
    # a key noun that the library never says ("resuscitation", "lungs": tools.absence) gives the
    # never-mentioned answer instead; at most one question in ten of these paraphrases
    absent = [row for row in report["rows"] if row["answer"].startswith((NEVER_MENTIONED, NOT_STATED))]
    assert len(absent) <= len(report["rows"]) // 10, [row["question"] for row in absent]
    for row in report["rows"]:
        if row in absent:
            assert re.search(r"^- related: \u201c.+\u201d \[[^\]]+\]$", row["answer"], re.M), row["answer"]
            continue
        lead, *support = row["answer"].splitlines()
        assert re.fullmatch(r"\S+\.mp4 (says|shows on screen): \u201c.+\u201d \[[^\]]+\]", lead), lead
        assert all(re.fullmatch(r"- (speech|on screen): \u201c.+\u201d \[[^\]]+\]", line) for line in support), support


def test_a_measure_the_lecture_never_gives_is_flagged_and_one_it_gives_is_quoted(sample_library):
    # the solar system lecture names Mercury but gives no temperature; the bread lecture gives its oven's
    mercury = answer_question(sample_library, "How hot is the surface of Mercury?")
    assert mercury["outcome"] == "absent" and mercury["answer"].startswith(f"{NOT_STATED} a temperature.")
    assert re.search(r"^- related: \u201c.+\u201d \[[^\]]+\]$", mercury["answer"], re.M), mercury["answer"]
    assert "baking_bread" not in mercury["answer"]  # the related moments are the solar lecture's, not the oven's
    oven = answer_question(sample_library, "How hot should the oven be when baking bread?")
    assert oven["outcome"] == "answered" and "degrees" in oven["answer"].splitlines()[0]
    pace = answer_question(sample_library, "How fast should you push during chest compressions?")
    assert pace["outcome"] == "answered" and "per minute" in pace["answer"]


def test_a_yes_no_question_whose_words_the_moment_lacks_is_flagged(sample_library):
    mars = answer_question(sample_library, "Does Mars have liquid water?")
    assert mars["outcome"] == "absent" and mars["answer"].startswith(f"{NOT_STATED} whether it is so.")
    uranus = answer_question(sample_library, "Does Uranus spin on its side?")
    assert uranus["outcome"] == "answered" and "side" in uranus["answer"].splitlines()[0]


def test_the_demo_question_quotes_the_slide_not_the_misheard_speech(sample_library):
    result = answer_question(sample_library, "How do two computers open a TCP connection?")
    lead = result["answer"].splitlines()[0]
    assert lead.startswith("tcp_networking.mp4 shows on screen: \u201cThe Three-Way Handshake\u201d")
    assert "\u201cClient sends SYN\u201d" in lead and result["citations"][0]["start"] < 21.68
    assert result["citations"][0]["quote"].startswith("The Three-Way Handshake \u00b7 Client sends SYN")


def test_a_clip_that_spans_a_slide_change_quotes_one_slide(sample_library):
    # first_aid_cpr.mp4's clip at 33.2-37.2 s shows the end of "Chest Compressions" and then "Rescue Breaths".
    result = answer_question(sample_library, "What should you do right after thirty chest compressions?")
    lead, *_ = result["answer"].splitlines()
    assert "\u201cRescue Breaths\u201d" in lead and "Chest Compressions" not in lead and "centimeters" not in lead
    assert result["citations"][0]["quote"].startswith("Rescue Breaths \u00b7 ")
    assert "Chest Compressions" not in result["citations"][0]["quote"]


def test_why_does_bread_rest_quotes_the_rising_not_the_ingredients(sample_library):
    lead = answer_question(sample_library, "Why does bread need to rest before baking?")["answer"].splitlines()[0]
    assert "inflates the dough" in lead and "ingredients" not in lead


def test_a_sentence_begun_before_a_read_clip_is_read_with_it_once(sample_library):
    """The CPR lecture's depth sentence runs from 00:21.9 to 00:32.8 and the best clip is the short
    one at its end (the slide change at 00:30.3): the sentence is read with that clip (as quotable, not
    as that clip's evidence of relevance), and a sentence over two read clips is read once."""
    from vidrag.agent.extractive import gather
    from vidrag.tools.video_tools import VideoTools

    question = "How deep should you press on the chest during resuscitation?"
    candidates, _, _ = gather(VideoTools(sample_library), question, 5)
    speech = [c for c in candidates if c["kind"] == "speech"]
    [depth] = [c for c in speech if "centimeters deep" in c["text"]]
    assert depth["edge"] and depth["start"] < 30.0, depth
    spans = [(c["video"], c["start"], c["end"]) for c in speech]
    assert len(spans) == len(set(spans))


def test_a_word_only_the_videos_running_header_holds_is_evidence_but_never_quoted(sample_library):
    """'website' is only in the meeting's header ("Website Relaunch: Weekly Meeting"), on every slide."""
    result = answer_question(sample_library, "When will the website go live?")
    assert not result["answer"].startswith(NOT_FOUND), result["answer"]
    assert "June 12" in result["answer"].splitlines()[0] and "Website Relaunch" not in result["answer"]


def test_every_extractive_answer_is_cited_with_quotes(sample_library):
    result = answer_question(sample_library, "How do you get a crispy crust on homemade bread?")
    assert result["mode"] == "extractive" and result["removed_citations"] == []
    assert result["citations"] and all(c["quote"] and c["video_id"] for c in result["citations"])
    assert [s["tool"] for s in result["steps"]][:2] == ["search_clips", "get_transcript"]
    assert "steam" in result["answer"].lower()


def test_unrelated_questions_find_nothing(sample_library):
    from vidrag.samples.content import UNRELATED_QUESTIONS

    answered = {}
    for question in UNRELATED_QUESTIONS:
        result = answer_question(sample_library, question)
        if not result["answer"].startswith(NOT_FOUND) or result["citations"]:
            answered[question] = result["answer"][:160]
    # one in the water cycle's own field, "What is the boiling point of water on a mountain?", reads the
    # evaporation clip since hybrid search scores clips alone (relevance 0.384, floor 0.335; docs/agent.md)
    assert len(UNRELATED_QUESTIONS) >= 25 and len(answered) <= 1, answered


def test_follow_up_after_that_continues_in_the_same_video(sample_library):
    session = f"ex-{uuid.uuid4().hex[:8]}"
    first = answer_question(sample_library, "How does a TCP connection begin with a handshake?", session=session)
    lead = first["citations"][0]["video"]
    last = max((c for c in first["citations"] if c["video"] == lead), key=lambda c: c["end"])
    then = answer_question(sample_library, "And after that?", session=session)
    assert then["answer"].startswith("After that") and then["citations"]
    assert all(c["video"] == last["video"] and c["start"] >= last["end"] - 0.05 for c in then["citations"])
    assert [s["tool"] for s in then["steps"]] == ["get_transcript"]


def test_library_wide_question_uses_find_videos(sample_library):
    result = answer_question(sample_library, "Which videos cover the planets?")
    assert result["steps"][0]["tool"] == "find_videos"
    assert result["citations"][0]["video"] == "solar_system.mp4"


@pytest.fixture
def cli(sample_library, sample_settings, monkeypatch):
    from vidrag.api import cli_common
    from vidrag.api.cli import app

    monkeypatch.setattr(cli_common, "open_library", lambda for_ingest=False: sample_library)
    monkeypatch.setattr(cli_common, "settings", lambda: sample_settings)
    return lambda *args: CliRunner().invoke(app, list(args))


def test_cli_ask_json(cli):
    result = cli("ask", "On which planet is the tallest volcano?", "--json", "--top-k", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"answer", "citations", "mode", "steps"} <= set(data) and data["mode"] == "extractive"
    assert "Mars" in data["answer"]
    assert set(data["citations"][0]) == {"video", "video_id", "start", "end", "quote"}


def test_cli_ask_text_and_eval(cli, tmp_path, sample_dir):
    text = cli("ask", "Why was Pluto demoted?")
    assert text.exit_code == 0 and "solar_system.mp4 @ 00:" in text.stdout
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join((sample_dir / "sample_qa.jsonl").read_text().splitlines()[:2]) + "\n")
    out = cli("eval", str(qa), "--json")
    assert out.exit_code == 0, out.output
    [data] = json.loads(out.stdout)["sets"]
    assert data["qa_file"] == str(qa) and data["questions"] == 2 and len(data["rows"]) == 2
    assert (
        0.0 <= data["recall_at_1"] <= 1.0 and 0.0 <= data["answer_with_citation_exact"] <= data["answer_with_citation"]
    )


def test_cli_eval_without_files_scores_every_shipped_set(cli, tmp_path, sample_dir, monkeypatch):
    import vidrag.samples.library as samples

    files = []
    for name in ("sample_qa.jsonl", "heldout_qa.jsonl"):
        files.append(tmp_path / name)
        files[-1].write_text((sample_dir / name).read_text().splitlines()[0] + "\n")
    monkeypatch.setattr(samples, "shipped_qa_paths", lambda: files)
    out = cli("eval")
    assert out.exit_code == 0, out.output
    assert out.stdout.count("1 questions (extractive)") == 2 and out.stdout.count("of a ceiling of 1.00") == 2
    assert f"== {files[0]}" in out.stdout and f"== {files[1]}" in out.stdout
