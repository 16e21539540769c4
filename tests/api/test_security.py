"""Safety: the API key beyond loopback, path escapes, upload limits and content checks, opaque errors, CORS."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from vidrag.api.app import create_app
from vidrag.storage.errors import InputError

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def test_listening_beyond_loopback_needs_a_key(sample_library, make_settings):
    with pytest.raises(InputError, match="VIDRAG_API_KEY"):
        create_app(make_settings(host="0.0.0.0"), library=sample_library)
    settings = make_settings(host="0.0.0.0", api_key="s3cret")
    with TestClient(create_app(settings, library=sample_library)) as http:
        for headers in ({}, {"X-API-Key": "wrong"}):
            response = http.get("/videos", headers=headers)
            assert response.status_code == 401
            assert response.json() == {"detail": "missing or invalid API key"}
        assert http.post("/search", json={"query": "tcp"}).status_code == 401
        assert http.get("/ready").status_code == 401
        assert http.get("/videos", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert http.post("/search", json={"query": "tcp"}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert http.get("/health").status_code == 200
        assert http.get("/").status_code == 200
        http.cookies.set("vidrag_api_key", "s3cret")
        assert http.get("/videos").status_code == 200  # media elements send the cookie, not a header
        assert http.post("/search", json={"query": "tcp"}).status_code == 401  # writes need the header


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host, loopback):
    from vidrag.api.app import is_loopback

    assert is_loopback(host) is loopback


def test_serve_refuses_to_listen_beyond_loopback_without_a_key(monkeypatch):
    from typer.testing import CliRunner

    from vidrag.api.cli import app

    monkeypatch.delenv("VIDRAG_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 2
    assert "Refusing to listen on 0.0.0.0 without an API key" in result.output
    assert "VIDRAG_API_KEY" in result.output


@pytest.fixture
def rooted(sample_library, make_settings, tmp_path):
    """An app whose only allowed root is a fresh folder, next to a folder outside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (outside / "secret.mp4").write_bytes(MP4_HEAD)
    with TestClient(create_app(make_settings(allowed_roots=[root]), library=sample_library)) as http:
        yield http, root, outside


def test_path_with_dotdot_is_refused(rooted):
    http, root, _ = rooted
    response = http.post("/videos", json={"path": f"{root}/../outside/secret.mp4"})
    assert response.status_code == 403
    assert response.json() == {"detail": "path must not contain '..'"}


def test_symlink_escapes_are_refused(rooted):
    http, root, outside = rooted
    os.symlink(outside / "secret.mp4", root / "link.mp4")
    os.symlink(outside, root / "linked-folder")
    for path in (root / "link.mp4", root / "linked-folder", root / "linked-folder" / "secret.mp4"):
        response = http.post("/videos", json={"path": str(path)})
        assert response.status_code == 403, path
        assert response.json() == {"detail": "path is outside the allowed roots"}
    assert http.post("/videos", json={"path": str(root)}).json() == {"detail": "no video files found"}


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/etc/passwd", 403, "path is outside the allowed roots"),
        ("relative/clip.mp4", 422, "path must be absolute"),
    ],
)
def test_bad_paths(rooted, path, status, detail):
    http, _, _ = rooted
    response = http.post("/videos", json={"path": path})
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_path_ingestion_is_off_without_roots(sample_library, make_settings, sample_dir):
    with TestClient(create_app(make_settings(allowed_roots=[]), library=sample_library)) as http:
        response = http.post("/videos", json={"path": str(sample_dir / "bikes.mp4")})
    assert response.status_code == 403
    assert response.json()["detail"] == "path ingestion is disabled: set VIDRAG_ALLOWED_ROOTS"


def test_oversized_uploads_are_refused(sample_library, make_settings):
    big = MP4_HEAD + b"\x00" * (3 << 20)
    with TestClient(create_app(make_settings(max_upload_mb=1), library=sample_library)) as http:
        response = http.post("/videos", files={"file": ("big.mp4", big, "video/mp4")})
        assert (response.status_code, response.json()) == (413, {"detail": "upload too large"})

        def chunks():  # no Content-Length: the limit applies while the body is read
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
            for _ in range(3):
                yield b"\x00" * (1 << 20)
            yield b"\r\n--b--\r\n"

        response = http.post("/videos", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert (response.status_code, response.json()) == (413, {"detail": "upload too large"})
    assert not list(sample_library.uploads_dir.glob(".incoming-*"))


@pytest.mark.parametrize("content", [b"This is a text file, not a video.\n" * 20, MP4_HEAD + b"garbage" * 100])
def test_fake_videos_are_refused_by_content(client, sample_library, content):
    response = client.post("/videos", files={"file": ("lecture.mp4", content, "video/mp4")})
    assert (response.status_code, response.json()) == (422, {"detail": "not a video"})
    assert not list(sample_library.uploads_dir.glob(".incoming-*"))


def test_other_bodies_and_missing_file(client):
    assert client.post("/videos", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    response = client.post("/videos", data={"other": "x"}, files={"nofile": ("a.txt", b"x")})
    assert (response.status_code, response.json()["detail"]) == (
        422,
        "no file: send the video in the multipart field 'file'",
    )
    assert client.post("/videos", json={"nope": 1}).status_code == 422


class _BrokenLibrary:
    """A library whose listing fails with an unexpected error carrying internals."""

    def __init__(self) -> None:
        from vidrag.storage.catalog import Catalog
        from vidrag.storage.jobs import JobStore

        self.jobs = JobStore(Catalog(":memory:"))

    def videos(self):
        raise RuntimeError("secret internals at /srv/private/db")


def test_unexpected_errors_are_opaque(make_settings):
    app = create_app(make_settings(), library=_BrokenLibrary())
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/videos")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_cors_is_off_unless_configured(client, sample_library, make_settings):
    origin = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/videos", headers=origin).headers
    settings = make_settings(cors_origins=["https://elsewhere.example"])
    with TestClient(create_app(settings, library=sample_library)) as http:
        response = http.get("/videos", headers=origin)
    assert response.headers["access-control-allow-origin"] == "https://elsewhere.example"
