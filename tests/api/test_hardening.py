"""No input takes the server down, and a failure is never answered as "not found" (issue #22, items 1, 5, 10).

The library is real (Qdrant Edge, the catalog, decoding) with the fast-tier word-hash embedder; it holds
one 2 s video whose points are written directly (`tests.hardened.written_library`), so no ingest runs.
The native panic in these tests is a real one: Qdrant Edge's, made by giving the store a NaN time.
"""

from __future__ import annotations

import json
import math

import httpx
import pytest
from fastapi.testclient import TestClient

from tests import media
from tests.api.conftest import serve
from tests.hardened import written_library
from vidrag.api.app import ApiSettings, create_app
from vidrag.storage.errors import InputError, StoreFailure

RAW_BAD = [
    '{"query": "engineers", "start": NaN}',
    '{"query": "engineers", "end": Infinity}',
    '{"query": "engineers", "start": -Infinity}',
    '{"query": "engineers", "start": 1e309}',
    '{"query": "engineers", "top_k": 1e309}',
    '{"query": "\\ud800 engineers"}',
    '{"query": "engineers", "video": "\\udfff"}',
    '{"query": "engineers", "videos": ["\\ud83d"]}',
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(library, video path, videos folder): a real store and catalog holding one 2 s video, written directly."""
    folder = tmp_path_factory.mktemp("hardening-videos")
    video = media.video_no_audio(folder, seconds=2.0)
    library = written_library(tmp_path_factory.mktemp("hardening-home"), video, [folder])
    yield library, video, folder
    library.close()


def settings_for(world, **overrides):
    library, _, folder = world
    values = {
        "home": library.data_dir,
        "allowed_roots": [folder],
        "api_key": None,
        "cors_origins": [],
        "llm_url": None,
        "host": "127.0.0.1",
        **overrides,
    }
    return ApiSettings(**values)


@pytest.fixture(scope="module")
def http(world):
    with TestClient(create_app(settings_for(world), library=world[0])) as client:
        yield client


def real_panic(world) -> BaseException:
    """The BaseException Qdrant Edge raises when a NaN reaches it (pyo3's PanicException), caught here."""
    store = world[0].store
    try:
        type(store)._candidates.__wrapped__(store, [1.0] + [0.0] * (store.dim - 1), None, _nan_where(), 1, "dense")
    except BaseException as error:  # noqa: BLE001 - the point: what `except Exception` misses
        assert not isinstance(error, Exception)
        return error
    raise AssertionError("Qdrant Edge no longer panics on a NaN range: the containment test needs a new trigger")


def _nan_where():
    from vidrag.storage.qdrant_store import Where

    return Where(kind="clip", ends_after=math.nan)


def test_non_finite_numbers_and_lone_surrogates_are_422_with_a_readable_body(http):
    for body in RAW_BAD:
        response = http.post("/search", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (body, response.status_code, response.text)
        assert response.json()["detail"], body  # JSON the client can read, the bad value escaped
    for path, body in [
        ("/ask", '{"question": "\\ud800?"}'),
        ("/ask", '{"question": NaN}'),
        ("/generate/talking-head", '{"script": "hi", "video_id": "x", "time": NaN}'),
        ("/generate/talking-head", '{"script": "hi", "video_id": "x", "time": 1e309}'),
        ("/generate/talking-head", '{"script": "\\udc00", "image_path": "/a.png"}'),
        ("/videos", '{"path": "\\ud800"}'),
        ("/videos", '{"path": NaN}'),
    ]:
        response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, body, response.status_code, response.text)
    assert http.get("/videos/x/thumbnail", params={"t": "nan"}).status_code == 422
    assert http.get("/health").json() == {"status": "ok"}
    hits = http.post("/search", json={"query": "hire engineers"}).json()["hits"]
    assert hits and "engineers" in hits[0]["transcript"]


def test_the_library_refuses_times_that_are_not_finite(world):
    library, video, _ = world
    for call in (
        lambda: library.search("engineers", start=math.nan),
        lambda: library.search("engineers", end=math.inf),
        lambda: library.search("engineers", k=10**9),
        lambda: library.search("\ud800"),
        lambda: library.transcript(video.name, math.nan),
        lambda: library.span_clips(video.name, 0.0, math.nan),
        lambda: library.frames(video.name, math.nan, 2.0),
        lambda: library.cut(video.name, 0.0, math.inf, video.parent / "out.mp4"),
        lambda: library.thumbnail(library.video(video.name).id, math.nan),
    ):
        with pytest.raises(InputError, match="finite|between 1 and|surrogate"):
            call()


def test_a_store_panic_fails_one_call_and_the_store_goes_on(world):
    library = world[0]
    panic = real_panic(world)
    assert type(panic).__name__ == "PanicException"
    with pytest.raises(StoreFailure, match="PanicException"):
        library.store.search([1.0] + [0.0] * (library.store.dim - 1), None, start=math.nan, mode="dense")
    assert library.search("hire engineers")[0].transcript.startswith("We will hire")


class PanickingLibrary:
    """The real library, except that `search` raises the real native panic (as a NaN once did)."""

    def __init__(self, library, panic: BaseException) -> None:
        self._library, self._panic = library, panic

    def __getattr__(self, name):
        return getattr(self._library, name)

    def search(self, *args, **kwargs):
        raise self._panic


def test_a_panic_in_a_request_is_that_requests_error_and_never_not_found(world):
    panicking = PanickingLibrary(world[0], real_panic(world))
    app = create_app(settings_for(world), library=panicking)
    with TestClient(app, raise_server_exceptions=False) as client:
        searched = client.post("/search", json={"query": "engineers"})
        assert searched.status_code == 500 and searched.json() == {"detail": "internal error"}
        asked = client.post("/ask", json={"question": "How many engineers will be hired?"})
        assert asked.status_code == 503, asked.text  # not 200 "could not find"
        assert "PanicException" in asked.json()["message"]
        streamed = client.post("/ask", json={"question": "How many engineers?", "stream": True})
        assert "event: error" in streamed.text and "could not find" not in streamed.text
        health = client.get("/health")
        assert health.status_code == 200 and app.state.jobs.alive()  # the lifespan is still running

    from vidrag.api.mcp_server import VidragTools

    result = VidragTools(panicking).call("search_clips", {"query": "engineers"})
    assert result.is_error and "PanicException" in result.content[0].text


def test_nan_over_mcp_http_is_a_tool_error_and_the_server_keeps_serving(world):
    app = create_app(settings_for(world), library=world[0])
    with serve(app) as base:
        accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        start = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        opened = httpx.post(f"{base}/mcp", json=start, headers=accept)
        session = {**accept, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        results = []
        for number, value in enumerate(["NaN", "Infinity", "-Infinity", "1e309"], start=2):
            call = (
                f'{{"jsonrpc": "2.0", "id": {number}, "method": "tools/call", "params": {{"name": "search_clips", '
                f'"arguments": {{"query": "engineers", "start": {value}}}}}}}'
            )
            response = httpx.post(f"{base}/mcp", content=call, headers=session)
            assert response.status_code == 200, response.text
            results.append(_sse_json(response.text)["result"])
        assert all(r["isError"] and "finite" in r["content"][0]["text"] for r in results), results
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        hits = httpx.post(f"{base}/search", json={"query": "hire engineers"}).json()["hits"]
        assert hits and "engineers" in hits[0]["transcript"]
        answer = httpx.post(f"{base}/ask", json={"question": "How many engineers will be hired?"}).json()
        assert "three engineers" in answer["answer"]
        quoted = [p["text"] for p in answer["parts"] if p["source"] == "video"]  # untrusted text is marked
        assert any("three engineers" in text for text in quoted), answer["parts"]
        assert "".join(p["text"] for p in answer["parts"]) == answer["answer"]
        assert "<<video-data>>“We will hire three engineers" in answer["answer_marked"]


def _sse_json(text: str) -> dict:
    data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1])


def test_health_says_broken_when_the_library_is_closed_or_the_worker_stopped(tmp_path):
    from tests.agent.tiny_library import TinyLibrary

    tiny = TinyLibrary(tmp_path)
    app = create_app(ApiSettings(home=tmp_path, api_key=None, llm_url=None, host="127.0.0.1"), library=tiny)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        app.state.jobs.stop()
        stopped = client.get("/health")
        assert stopped.status_code == 503 and "the ingest worker is stopped" in stopped.json()["problems"]
        tiny.closed = True
        assert "the library is closed" in client.get("/health").json()["problems"]
    tiny.close()


def test_head_on_media_gives_the_headers_without_the_body(http, world):
    video_id = world[0].video(world[1].name).id
    head = http.head(f"/videos/{video_id}/media")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == world[1].stat().st_size


def test_cut_clip_reports_the_span_it_cut_and_talking_head_images_stay_under_the_roots(world, tmp_path):
    from vidrag.tools.video_tools import VideoTools

    library, video, _ = world
    tools = VideoTools(library, out_dir=tmp_path)
    cut = tools.cut_clip(video.name, -5.0, 2.0)
    assert (cut["start"], cut["end"]) == (0.0, 2.0) and cut["cite_as"].endswith("00:00.0–00:02.0]")
    outside = tmp_path / "portrait.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert tools.generate_talking_head("Hello there.", image=str(outside)) == {
        "error": "path is outside the allowed roots"
    }
    assert tools.generate_talking_head("Hello.", video=video.name, frame_time=math.nan)["error"].startswith(
        "frame_time must be a finite number"
    )


def test_video_keys_with_like_wildcards_match_only_themselves(world):
    library = world[0]
    for key in ("%", "_", "%.mp4", "silent_video.mp_", "silent%"):
        with pytest.raises(Exception, match="Unknown video"):
            library.video(key)
    assert library.video("silent_video.mp4").path.endswith("silent_video.mp4")
