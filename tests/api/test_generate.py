"""Talking-head generation as an API job: the real pipeline code with tiny weights, over HTTP."""

import time

import av
import pytest

from tests.api.conftest import wait_job


@pytest.fixture(scope="module")
def lecture_id(client):
    videos = client.get("/videos").json()
    return next(v["id"] for v in videos if v["path"].endswith("tcp_networking.mp4"))


def test_a_tiny_talking_head_job_makes_an_mp4_with_voice(client, lecture_id, tmp_path):
    response = client.post(
        "/generate/talking-head",
        json={
            "video_id": lecture_id,
            "time": 2.0,
            "script": "Welcome to the networking lecture.",
            "tiny": True,
            "steps": 2,
            "seed": 3,
        },
    )
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"], timeout=240)
    assert job["status"] == "done", job
    assert job["kind"] == "talking_head" and job["progress"]["percent"] == 100.0
    assert job["result"]["seed"] == 3
    output = client.get(f"/jobs/{job['id']}/output")
    assert output.status_code == 200 and output.headers["content-type"] == "video/mp4"
    path = tmp_path / "head.mp4"
    path.write_bytes(output.content)
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        video_s = float(video.duration * video.time_base)
        audio_s = float(audio.duration * audio.time_base)
    assert abs(video_s - audio_s) <= 1 / 30 + 1e-3


def test_the_real_model_on_a_cpu_fails_the_job_with_the_reason(client, lecture_id):
    response = client.post("/generate/talking-head", json={"video_id": lecture_id, "script": "Hello."})
    job = wait_job(client, response.json()["id"], timeout=120)
    assert job["status"] == "failed"
    assert "CPU" in job["error"] or "vidrag models download framepack" in job["error"]
    assert client.get(f"/jobs/{job['id']}/output").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"script": "Hi."}, 422, "give video_id"),
        ({"script": "Hi.", "video_id": "0000000000000000"}, 404, None),
        ({"script": "Hi.", "image_path": "/etc/hostname.png"}, 403, "outside the allowed roots"),
        ({"script": "Hi.", "image_path": "/etc/passwd"}, 422, "PNG, JPEG or WebP"),
        ({"script": "   ", "video_id": "x"}, 422, "script is empty"),
    ],
)
def test_bad_requests_are_refused(client, body, status, detail):
    response = client.post("/generate/talking-head", json=body)
    assert response.status_code == status, response.text
    if detail:
        assert detail in response.json()["detail"]


def _poll(client, job_id, until, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached the state: {job}")


def test_a_running_talking_head_job_is_cancelled_after_its_current_step(client, lecture_id):
    script = "Hello there, and welcome to the lecture about networking and the TCP handshake."
    body = {"video_id": lecture_id, "time": 1.0, "script": script, "tiny": True, "steps": 100}
    response = client.post("/generate/talking-head", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    running = _poll(client, job_id, lambda j: j["status"] == "running" and j["progress"].get("done", 0) >= 3)
    cancelled = client.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    job = _poll(client, job_id, lambda j: j["status"] not in ("queued", "running"))
    assert job["status"] == "cancelled" and job["progress"]["stage"] == "cancelled"
    assert job["progress"]["done"] < job["progress"]["total"] == running["progress"]["total"]
    assert client.get(f"/jobs/{job_id}/output").status_code == 404
    again = client.post(f"/jobs/{job_id}/cancel")
    assert again.status_code == 422 and "already cancelled" in again.json()["message"]
    assert client.post("/jobs/0000000000000000/cancel").status_code == 404
