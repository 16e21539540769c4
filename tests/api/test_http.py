"""Real HTTP on a loopback socket (uvicorn in a thread): Range requests on media, streamed answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx


def _record(library, name: str):
    return next(r for r in library.videos() if Path(r.path).name == name)


def test_media_supports_range_requests(live_url, sample_library):
    record = _record(sample_library, "tcp_networking.mp4")
    data = Path(record.path).read_bytes()
    url = f"{live_url}/videos/{record.id}/media"
    with httpx.Client(timeout=30) as http:
        whole = http.get(url)
        assert whole.status_code == 200
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "video/mp4"
        assert int(whole.headers["content-length"]) == len(data)
        head = http.get(url, headers={"Range": "bytes=0-99"})
        assert head.status_code == 206
        assert head.headers["content-range"] == f"bytes 0-99/{len(data)}"
        assert head.content == data[:100]
        tail = http.get(url, headers={"Range": f"bytes={len(data) - 500}-"})
        assert tail.status_code == 206 and tail.content == data[-500:]
        assert http.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416


def _events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            events.append((kind, json.loads(line[5:])))
    return events


def test_ask_streams_steps_tokens_then_the_answer(live_url):
    body = {"question": "How does the TCP three-way handshake work?", "stream": True, "session_id": "s-1"}
    with httpx.Client(timeout=60) as http, http.stream("POST", f"{live_url}/ask", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "step" and kinds[-1] == "answer"
    assert set(kinds[1:-1]) == {"token"}
    final = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token").strip() == final["answer"]
    cite = final["citations"][0]
    assert cite["name"] == "tcp_networking.mp4" and cite["end"] > cite["start"] >= 0
    assert cite["media_url"] == f"/videos/{cite['video_id']}/media#t={cite['start']:.2f},{cite['end']:.2f}"
    assert final["session_id"] == "s-1"
