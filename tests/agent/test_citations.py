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
