"""Search, ask (JSON and the error event of a stream), health and readiness through TestClient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidrag.storage.errors import InputError


def test_search_returns_moments_with_timestamps(client):
    response = client.post("/search", json={"query": "three-way handshake SYN ACK", "top_k": 3})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert 0 < len(hits) <= 3
    best = hits[0]
    assert best["name"] == "tcp_networking.mp4"
    assert 0 <= best["start"] < best["end"]
    assert best["thumbnail_url"].startswith(f"/videos/{best['video_id']}/thumbnail?t=")
    assert best["media_url"].endswith(f"#t={best['start']:.2f},{best['end']:.2f}")


def test_search_filters_by_video_and_time(client, sample_library):
    bread = next(r for r in sample_library.videos() if Path(r.path).name == "baking_bread.mp4")
    body = {"query": "handshake", "video": bread.id, "start": 10.0, "end": 30.0, "top_k": 20}
    hits = client.post("/search", json=body).json()["hits"]
    assert hits and {h["video_id"] for h in hits} == {bread.id}
    assert all(h["end"] > 10.0 and h["start"] < 30.0 for h in hits)
    whole = client.post("/search", json={"query": "bread", "kind": "video", "top_k": 1}).json()["hits"]
    assert whole[0]["kind"] == "video" and whole[0]["video_id"] == bread.id


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"query": "   "}, 422, "bad input"),
        ({"query": "tcp", "start": 20, "end": 5}, 422, "bad input"),
        ({"query": "tcp", "video": "no-such-video"}, 404, "not found"),
    ],
)
def test_search_errors_are_short_and_stable(client, body, status, detail):
    response = client.post("/search", json=body)
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "x", "top_k": 0},
        {"query": "x", "mode": "fuzzy"},
        {"query": "x", "start": -1},
        {"query": "x", "unknown": 1},
    ],
)
def test_search_validation(client, body):
    assert client.post("/search", json=body).status_code == 422


def test_ask_returns_answer_with_playable_citations(client):
    response = client.post("/ask", json={"question": "What is slow start in TCP?"})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "scripted" and body["answer"]
    cite = body["citations"][0]
    assert cite["name"] == "tcp_networking.mp4"
    assert cite["media_url"].startswith(f"/videos/{cite['video_id']}/media#t=")
    assert body["steps"][0]["tool"] == "search_clips"


def test_stream_reports_agent_errors_as_an_event(sample_library, make_settings):
    from fastapi.testclient import TestClient

    from vidrag.api.app import create_app

    def failing(library, question, **_):
        raise InputError("The question names no video I know.")

    with TestClient(create_app(make_settings(), library=sample_library, answer=failing)) as local:
        with local.stream("POST", "/ask", json={"question": "q", "stream": True}) as response:
            text = response.read().decode()
    assert response.status_code == 200
    assert "event: error" in text
    data = json.loads(text.split("data:", 1)[1])
    assert data == {"detail": "bad input", "message": "The question names no video I know.", "status": 422}


def test_ask_uses_the_agent_package(sample_library, make_settings):
    """Without an injected answerer the app calls `vidrag.agent.answer_question` (503 while it is absent)."""
    from fastapi.testclient import TestClient

    from vidrag.api.app import create_app

    try:
        import vidrag.agent as agent

        present = hasattr(agent, "answer_question")
    except ImportError:
        present = False
    question = {"question": "How does a TCP connection start?"}
    with TestClient(create_app(make_settings(), library=sample_library)) as local:
        response = local.post("/ask", json=question)
        with local.stream("POST", "/ask", json={**question, "stream": True}) as streamed:
            text = streamed.read().decode()
    if present:
        assert response.status_code == 200
        body = response.json()
        assert body["answer"] and body["citations"] and body["steps"]
        assert body["citations"][0]["media_url"].startswith(f"/videos/{body['citations'][0]['video_id']}/media#t=")
        assert "event: step" in text
        final = json.loads(text.split("event: answer\ndata: ", 1)[1].split("\n", 1)[0])
        assert final["answer"] == body["answer"]
    else:
        assert response.status_code == 503
        assert response.json() == {"detail": "agent unavailable"}


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"qdrant", "embedder", "captioner", "llm"}
    assert body["checks"]["llm"]["detail"].startswith("not configured")


def test_ready_is_503_when_the_llm_is_unreachable(sample_library, make_settings):
    from fastapi.testclient import TestClient

    from vidrag.api.app import create_app

    settings = make_settings(llm_url="http://127.0.0.1:9/v1")  # nothing listens on the discard port
    with TestClient(create_app(settings, library=sample_library)) as local:
        response = local.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["llm"]["ok"] is False and checks["qdrant"]["ok"] is True
