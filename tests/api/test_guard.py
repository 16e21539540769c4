"""Safe by default on any bind (issue #22, items 3, 4, 10): the peer and the socket, Host, Origin, the docs.

The app serves the in-memory `TinyLibrary`. A request "from another machine" is a TestClient request
with that client address, and once over a real socket: uvicorn bound to 0.0.0.0, reached through this
machine's own network address.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.agent.tiny_library import TinyLibrary
from vidrag.api.app import ApiSettings, create_app

REMOTE = ("203.0.113.7", 40000)  # TEST-NET-3: an address that is not this machine
LOCAL = ("127.0.0.1", 40000)


@pytest.fixture
def tiny(tmp_path):
    library = TinyLibrary(tmp_path)
    yield library
    library.close()


def make_app(tiny, **overrides):
    values = {"home": tiny.home, "api_key": None, "llm_url": None, "host": "127.0.0.1", "cors_origins": []}
    return create_app(ApiSettings(**{**values, **overrides}), library=tiny)


def test_without_a_key_only_loopback_clients_are_served_however_the_app_was_made(tiny):
    app = make_app(tiny)  # as `uvicorn --factory vidrag.api.app:create_app --host 0.0.0.0` makes it
    with TestClient(app, client=REMOTE, base_url="http://127.0.0.1:8000") as remote:
        for method, path in [("GET", "/videos"), ("POST", "/search"), ("DELETE", "/videos/vid000000000000")]:
            refused = remote.request(method, path, json={"query": "tcp"} if method == "POST" else None)
            assert refused.status_code == 403, (method, path, refused.text)
            assert "VIDRAG_API_KEY" in refused.json()["message"]
        assert remote.get("/").status_code == 403 and remote.get("/docs").status_code == 403
    with TestClient(app, client=LOCAL, base_url="http://127.0.0.1:8000") as local:
        assert local.get("/videos").status_code == 200
        assert len(tiny.videos()) == 2  # nothing was deleted


def test_with_a_key_remote_clients_need_it(tiny):
    app = make_app(tiny, api_key="s3cret")
    with TestClient(app, client=REMOTE, base_url="http://vidrag.example:8000") as remote:
        assert remote.get("/videos").status_code == 401
        assert remote.get("/videos", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_the_bound_socket_is_checked_not_only_the_setting(tiny):
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    app = make_app(tiny)  # VIDRAG_HOST says loopback; the server binds every interface anyway
    with _serve_on_all_interfaces(app) as port:
        refused = httpx.get(f"http://{address}:{port}/videos", headers={"Host": f"127.0.0.1:{port}"})
        assert refused.status_code == 403 and "VIDRAG_API_KEY" in refused.text
        assert httpx.get(f"http://127.0.0.1:{port}/videos").status_code == 200


def test_host_must_be_a_loopback_name_by_default(tiny):
    with TestClient(make_app(tiny), client=LOCAL) as http:
        for host in ("attacker.example", "attacker.example:8000", "10.0.0.5"):
            rebound = http.get("/videos", headers={"Host": host})
            assert rebound.status_code == 421, host
            assert "VIDRAG_ALLOWED_HOSTS" in rebound.json()["message"]
        for host in ("127.0.0.1:8000", "localhost", "localhost:9", "[::1]:8000"):
            assert http.get("/videos", headers={"Host": host}).status_code == 200, host
    with TestClient(make_app(tiny, allowed_hosts=["videos.internal"]), client=LOCAL) as http:
        assert http.get("/videos", headers={"Host": "videos.internal:8000"}).status_code == 200
        assert http.get("/videos", headers={"Host": "attacker.example"}).status_code == 421
    with TestClient(make_app(tiny, api_key="k"), client=LOCAL) as http:  # the key guards any name
        assert http.get("/videos", headers={"Host": "vidrag.example", "X-API-Key": "k"}).status_code == 200


def test_a_state_changing_request_from_another_site_is_refused(tiny, tmp_path):
    with TestClient(make_app(tiny, cors_origins=["http://app.example"]), client=LOCAL) as http:
        host = {"Host": "127.0.0.1:8000"}
        evil = {**host, "Origin": "http://attacker.example"}
        assert http.post("/search", json={"query": "tcp"}, headers=evil).status_code == 403
        upload = http.post("/videos", files={"file": ("a.mp4", b"\x00" * 64, "video/mp4")}, headers=evil)
        assert upload.status_code == 403 and "VIDRAG_CORS_ORIGINS" in upload.json()["message"]
        assert http.delete("/videos/vid000000000000", headers=evil).status_code == 403
        assert http.get("/videos", headers=evil).status_code == 200  # reading is the browser's CORS business
        same = {**host, "Origin": "http://127.0.0.1:8000"}
        assert http.post("/search", json={"query": "tcp"}, headers=same).status_code == 200
        configured = {**host, "Origin": "http://app.example"}
        assert http.post("/search", json={"query": "tcp"}, headers=configured).status_code == 200
        assert http.post("/search", json={"query": "tcp"}, headers=host).status_code == 200  # no Origin: no browser
        assert http.get("/jobs", headers=host).json() == []  # the refused upload made no job


def test_the_docs_need_the_key_when_there_is_one(tiny):
    with TestClient(make_app(tiny)) as http:
        assert http.get("/docs").status_code == 200 and http.get("/openapi.json").status_code == 200
    with TestClient(make_app(tiny, api_key="s3cret")) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers={"X-API-Key": "s3cret"}).status_code == 200, path
        http.cookies.set("vidrag_api_key", "s3cret")  # the page's cookie opens them in a browser
        assert http.get("/docs").status_code == 200


def test_mcp_cors_preflight_names_the_mcp_headers(tiny):
    app = make_app(tiny, cors_origins=["http://inspector.example"], api_key="s3cret")
    with TestClient(app) as http:
        preflight = http.options(
            "/mcp",
            headers={
                "Origin": "http://inspector.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-api-key, mcp-session-id, mcp-protocol-version",
            },
        )
        assert preflight.status_code == 200, preflight.text
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"mcp-session-id", "mcp-protocol-version", "x-api-key"} <= {h.strip() for h in allowed.split(",")}
        posted = http.post("/mcp", json={}, headers={"Origin": "http://inspector.example"})
        assert posted.headers["access-control-expose-headers"].lower() == "mcp-session-id"


def _own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


@contextlib.contextmanager
def _serve_on_all_interfaces(app):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
