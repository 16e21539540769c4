"""Ingestion jobs: listing, lookup, and a job left unfinished by a stopped server resumed by the next."""

from __future__ import annotations

import json
import time
import uuid

from fastapi.testclient import TestClient

from tests.api.conftest import wait_job
from vidrag.api.app import create_app


def test_unfinished_job_is_resumed_after_a_restart(sample_library, make_settings, sample_dir):
    job_id = f"restart-{uuid.uuid4().hex[:8]}"
    path = str((sample_dir / "first_aid_cpr.mp4").resolve())
    now = time.time()
    sample_library.catalog.execute(  # what a server killed mid-ingest leaves behind
        "INSERT INTO jobs (id, kind, status, params, progress, result, error, created, updated) "
        "VALUES (?, 'ingest', 'running', ?, ?, '{}', NULL, ?, ?)",
        (
            job_id,
            json.dumps({"paths": [path], "source": "path"}),
            json.dumps({"stage": "decode", "percent": 40}),
            now,
            now,
        ),
    )
    with TestClient(create_app(make_settings(), library=sample_library)) as http:
        job = wait_job(http, job_id)
        assert job["status"] == "done", job
        assert job["result"]["counts"] == {"indexed": 0, "unchanged": 1, "failed": 0}
        assert job["result"]["files"][0]["path"] == path
        assert job["progress"]["percent"] == 100.0
        assert job_id in [j["id"] for j in http.get("/jobs", params={"status": "done"}).json()]


def test_job_lookup_errors(client):
    response = client.get("/jobs/no-such-job")
    assert (response.status_code, response.json()["detail"]) == (404, "not found")
    assert client.get("/jobs", params={"status": "bogus"}).status_code == 422
    assert client.get("/jobs", params={"limit": 0}).status_code == 422


def test_a_failing_path_fails_its_job(sample_library, make_settings, tmp_path):
    broken = tmp_path / "broken-for-api-test.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 64)
    with TestClient(create_app(make_settings(allowed_roots=[tmp_path]), library=sample_library)) as http:
        response = http.post("/videos", json={"path": str(broken)})
        assert response.status_code == 202
        job = wait_job(http, response.json()["id"])
    assert job["status"] == "failed"
    assert job["result"]["counts"]["failed"] == 1
    assert "broken-for-api-test.mp4" in job["error"]


def test_a_nested_lifespan_leaves_the_worker_running(sample_library, make_settings, sample_dir):
    """A second client on a running app (as schemathesis uses) must not stop the app's worker."""
    app = create_app(make_settings(), library=sample_library)
    with TestClient(app) as outer:
        with TestClient(app) as inner:
            assert inner.get("/health").status_code == 200
        response = outer.post("/videos", json={"path": str(sample_dir / "bikes.mp4")})
        assert wait_job(outer, response.json()["id"], timeout=60)["status"] == "done"
    assert app.state.jobs is None
