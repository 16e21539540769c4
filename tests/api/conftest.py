"""Fixtures of the API tests: the app over the shared sample library, a scripted answerer, a live server.

The app is handed the session's `sample_library` (an embedded Qdrant folder admits one client), so
every app built here serves the same ingested library. `serve(app)` runs uvicorn on 127.0.0.1 on
a free port in a thread, for what needs real HTTP on a socket (streaming, Range, the browser).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest


def scripted_answer(
    library: Any,
    question: str,
    *,
    session: Any = None,
    llm: Any = None,
    stream: Any = None,
    top_k: int = 2,
) -> dict[str, Any]:
    """A stand-in for `vidrag.agent.answer_question` with the same contract: one search, cite the best hit."""
    hits = library.search(question, k=top_k)
    if stream:
        stream({"type": "step", "tool": "search_clips", "args": {"query": question}, "result": f"{len(hits)} hits"})
    best = hits[0]
    answer = f"The best matching moment starts at {best.start:.1f} seconds [1]."
    if stream:
        for word in answer.split(" "):
            stream({"type": "token", "delta": word + " "})  # the agent's token field
        stream({"type": "answer", "answer": answer})
    citation = {
        "video": best.video,
        "video_id": best.video_id,
        "start": best.start,
        "end": best.end,
        "quote": (best.transcript or best.text)[:80],
    }
    return {
        "answer": answer,
        "citations": [citation],
        "mode": "scripted",
        "steps": [{"tool": "search_clips", "query": question, "session": session}],
    }


@pytest.fixture(scope="session")
def api_home(tmp_path_factory) -> Any:
    return tmp_path_factory.mktemp("api-home")


@pytest.fixture(scope="session")
def make_settings(api_home, sample_dir):
    """Build ApiSettings for tests: loopback, no key, sample folder as the allowed root, 5 MB uploads."""
    from vidrag.api.app import ApiSettings

    def build(**overrides: Any) -> Any:
        values = {
            "home": api_home,
            "allowed_roots": [sample_dir],
            "max_upload_mb": 5,
            "api_key": None,
            "cors_origins": [],
            "llm_url": None,
            "host": "127.0.0.1",
            **overrides,
        }
        return ApiSettings(**values)

    return build


@pytest.fixture(scope="session")
def app(sample_library, make_settings):
    from vidrag.api.app import create_app

    return create_app(make_settings(), library=sample_library, answer=scripted_answer)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="session")
def live_url(sample_library, make_settings) -> Iterator[str]:
    """A uvicorn server on loopback over the sample library, shared by the session."""
    from vidrag.api.app import create_app

    with serve(create_app(make_settings(), library=sample_library, answer=scripted_answer)) as url:
        yield url


def wait_job(client: Any, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll GET /jobs/{id} until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s: {job}")
