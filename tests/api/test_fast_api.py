"""The REST API over real HTTP (TestClient) on a library the app opens itself: the fast tier's view.

The embedder and the speech model are `tests.fakes`; the app's own startup (`open_library`), the
ingest jobs, decoding, OCR, the store and the extractive answerer are real. The slow API tests run
the same routes on the sample library with the real models.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests import fakes, media
from tests.api.conftest import wait_job
from vidrag.api.app import ApiSettings, create_app

SENTENCE = "We will hire three engineers for the data platform this spring."


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return media.speech_video(tmp_path_factory.mktemp("api-fast"), text="Hiring Plan", sentence=SENTENCE)


@pytest.fixture(scope="module")
def client(video, tmp_path_factory):
    settings = ApiSettings(
        home=tmp_path_factory.mktemp("api-fast-home"),
        allowed_roots=[video.parent],
        max_upload_mb=5,
        api_key=None,
        cors_origins=[],
        llm_url=None,
        host="127.0.0.1",
    )
    with pytest.MonkeyPatch.context() as patch:
        fakes.install(patch, SENTENCE)
        with TestClient(create_app(settings)) as client:
            yield client


def test_a_server_path_is_ingested_searched_answered_and_deleted(client, video):
    submitted = client.post("/videos", json={"path": str(video)})
    assert submitted.status_code == 202, submitted.text
    job = wait_job(client, submitted.json()["id"], timeout=60)
    assert job["status"] == "done" and job["result"]["counts"]["indexed"] == 1, job
    [listed] = client.get("/videos").json()
    assert listed["status"] == "indexed" and listed["name"] == "speech_video.mp4"

    hits = client.post("/search", json={"query": "hire engineers"}).json()["hits"]
    assert hits and hits[0]["video_id"] == listed["id"] and "engineers" in hits[0]["transcript"]
    answer = client.post("/ask", json={"question": "How many engineers will be hired?"}).json()
    assert "three engineers" in answer["answer"] and answer["citations"][0]["video_id"] == listed["id"]
    media_file = client.get(f"/videos/{listed['id']}/media", headers={"Range": "bytes=0-99"})
    assert media_file.status_code == 206 and len(media_file.content) == 100
    thumbnail = client.get(f"/videos/{listed['id']}/thumbnail", params={"t": 1.0})
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"  # a JPEG
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["checks"]["embedder"]["detail"] == "word-hash (64-d)"
    assert "exact search" in ready["checks"]["qdrant"]["detail"]  # one video: far under the HNSW threshold

    assert client.delete(f"/videos/{listed['id']}").status_code == 200
    assert client.get(f"/videos/{listed['id']}").status_code == 404
    assert client.post("/search", json={"query": "hire engineers"}).json()["hits"] == []


def test_a_path_outside_the_allowed_roots_is_refused(client, tmp_path):
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"x")
    refused = client.post("/videos", json={"path": str(outside)})
    assert refused.status_code == 403 and "allowed" in refused.text
