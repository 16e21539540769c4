"""Videos over HTTP: list, look up, delete, thumbnails, ingest by server path and by upload."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import wait_job


def _record(library, name: str):
    return next(r for r in library.videos() if Path(r.path).name == name)


def test_list_videos_shows_the_library(client, sample_library):
    response = client.get("/videos")
    assert response.status_code == 200
    body = response.json()
    assert {v["id"] for v in body} == {r.id for r in sample_library.videos()}
    tcp = next(v for v in body if v["name"] == "tcp_networking.mp4")
    assert tcp["status"] == "indexed" and tcp["clip_count"] > 0 and tcp["duration"] > 10
    assert tcp["media_url"] == f"/videos/{tcp['id']}/media"


def test_get_video_by_exact_id_only(client, sample_library):
    record = _record(sample_library, "tcp_networking.mp4")
    video = client.get(f"/videos/{record.id}").json()
    assert video["name"] == "tcp_networking.mp4"
    assert len(video["cuts"]) == 4  # the lecture's four slide changes
    for key in ("ffffffffffffffff", record.id[:6], "tcp_networking.mp4"):
        response = client.get(f"/videos/{key}")
        assert response.status_code == 404
        assert response.json()["detail"] == "not found"


def test_delete_unknown_video_is_404(client):
    response = client.delete("/videos/0000000000000000")
    assert response.status_code == 404
    assert response.json()["detail"] == "not found"


def test_thumbnail_is_a_cached_jpeg(client, sample_library):
    record = _record(sample_library, "tcp_networking.mp4")
    first = client.get(f"/videos/{record.id}/thumbnail", params={"t": 3.0})
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert first.content[:3] == b"\xff\xd8\xff"
    assert (sample_library.data_dir / "thumbs" / record.id / "0000030.jpg").is_file()
    assert client.get(f"/videos/{record.id}/thumbnail", params={"t": 3.0}).content == first.content
    late = client.get(f"/videos/{record.id}/thumbnail", params={"t": 99999})  # clamped to the end
    assert late.status_code == 200 and late.content[:2] == b"\xff\xd8"
    assert client.get(f"/videos/{record.id}/thumbnail", params={"t": -1}).status_code == 422


def test_path_ingest_of_an_indexed_file_finishes_unchanged(client, sample_dir):
    path = (sample_dir / "solar_system.mp4").resolve()
    response = client.post("/videos", json={"path": str(path)})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "done"
    assert job["result"]["counts"] == {"indexed": 0, "unchanged": 1, "failed": 0}
    assert job["progress"]["percent"] == 100.0


def test_duplicate_upload_is_recognised_by_content(client, sample_dir, sample_library):
    data = (sample_dir / "bikes.mp4").read_bytes()
    response = client.post("/videos", files={"file": ("another name.mp4", data, "video/mp4")})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "done"
    assert job["result"]["video_ids"] == [_record(sample_library, "bikes.mp4").id]
    assert not list(sample_library.uploads_dir.glob(f"{job['result']['video_ids'][0]}*"))


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    """A 3-second silent test pattern (H.264), made with ffmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: apt-get install ffmpeg")
    out = tmp_path / "pattern"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mp4",
            str(out),
        ],
        check=True,
    )
    return out


def test_upload_is_ingested_listed_and_deleted(client, tiny_video, sample_library):
    response = client.post("/videos", files={"file": ("pattern", tiny_video.read_bytes(), "application/octet-stream")})
    assert response.status_code == 202, response.text
    video_id = response.json()["params"]["video_id"]
    stored = sample_library.uploads_dir / video_id / "pattern.mp4"  # a suffix added from the content
    assert stored.is_file()
    job = wait_job(client, response.json()["id"])
    try:
        assert job["status"] == "done", job
        assert job["result"]["counts"]["indexed"] == 1
        video = client.get(f"/videos/{video_id}").json()
        assert video["status"] == "indexed" and video["clip_count"] >= 1 and video["name"] == "pattern.mp4"
        hits = client.post("/search", json={"query": "test pattern", "video": video_id}).json()["hits"]
        assert hits and {h["video_id"] for h in hits} == {video_id}
    finally:
        deleted = client.delete(f"/videos/{video_id}")
    assert deleted.status_code == 200 and deleted.json()["id"] == video_id
    assert client.get(f"/videos/{video_id}").status_code == 404
    assert not stored.exists()
