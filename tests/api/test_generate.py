"""Talking-head generation as an API job: the real pipeline code with tiny weights, over HTTP."""

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
