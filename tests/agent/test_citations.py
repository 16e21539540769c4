"""Citation parsing and checking against an evidence ledger, and session ids (no library needed)."""

from __future__ import annotations

import pytest

from vidrag.agent.citations import check_citations, parse_citations, parse_time
from vidrag.agent.sessions import SessionStore
from vidrag.storage.errors import InputError
from vidrag.tools.video_tools import EvidenceLedger


def test_parse_time_and_citation_forms():
    assert parse_time("01:02.5") == 62.5 and parse_time("1:00:01") == 3601 and parse_time("12.5s") == 12.5
    found = parse_citations("a [x.mp4 @ 00:10–00:20] b [y.mp4 @ 5s - 7s; x.mp4 @ 1:00 to 1:05]")
    assert [(v, s, e) for _, v, s, e in found] == [("x.mp4", 10, 20), ("y.mp4", 5, 7), ("x.mp4", 60, 65)]


def test_check_keeps_overlapping_removes_others_and_quotes():
    ledger = EvidenceLedger()
    ledger.record("x.mp4", "abc123", 10.0, 15.0, "the handshake starts", "get_transcript", "transcript")
    result = check_citations("It starts [x.mp4 @ 00:11.0–00:14.0]. Made up [x.mp4 @ 02:00.0–02:05.0].", ledger)
    assert [(c.video_id, c.start, c.end, c.quote) for c in result.citations] == [
        ("abc123", 11, 14, "the handshake starts")
    ]
    assert result.removed == ["[x.mp4 @ 02:00.0–02:05.0]"]
    assert result.answer.startswith("It starts [x.mp4 @ 00:11.0–00:14.0]. Made up.")
    assert "1 citation(s) were removed" in result.answer
    assert check_citations("[other.mp4 @ 00:11–00:12]", ledger).citations == []


def test_session_ids_are_checked(tmp_path):
    store = SessionStore(tmp_path)
    with pytest.raises(InputError, match="Bad session id"):
        store.load("../etc")
    store.append("talk-1", {"question": "q", "answer": "a", "citations": []})
    assert store.load("talk-1")[0]["answer"] == "a" and store.load("new") == []


def test_a_citation_quotes_what_the_answer_quoted_when_the_evidence_holds_it():
    ledger = EvidenceLedger()
    clip = "Speech: they begin with a freeway handshake.\nOn screen: The Three-Way Handshake\nClient sends SYN"
    ledger.record("x.mp4", "abc123", 0.0, 7.7, clip, "search_clips")
    for line in ("The Three-Way Handshake", "Client sends SYN"):
        ledger.record("x.mp4", "abc123", 0.0, 7.7, line, "inspect_clip", "ocr")
    ledger.record("x.mp4", "abc123", 0.0, 7.6, "they begin with a freeway handshake", "inspect_clip", "transcript")
    answer = (
        "x.mp4 shows on screen: \u201cThe Three-Way Handshake\u201d \u00b7 \u201cClient sends SYN\u201d "
        "[x.mp4 @ 00:00.0–00:07.7]\n"
        "- speech: \u201cThey begin with a freeway handshake.\u201d [x.mp4 @ 00:00.0–00:07.6]"
    )
    quotes = [c.quote for c in check_citations(answer, ledger).citations]
    assert quotes == ["The Three-Way Handshake \u00b7 Client sends SYN", "They begin with a freeway handshake."]
    made_up = check_citations("It says \u201cServer sends FIN\u201d [x.mp4 @ 00:00.0–00:07.7]", ledger)
    assert "FIN" not in made_up.citations[0].quote and "freeway handshake" in made_up.citations[0].quote
