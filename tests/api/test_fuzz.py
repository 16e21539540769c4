"""Fuzzing the REST and MCP schemas with the values that once took the server down (issue #22).

Hypothesis builds requests from the app's own schemas — the JSON bodies of the OpenAPI document, the
query and path parameters, the input schema of every MCP tool — and fills them with non-finite
numbers (NaN, ±Infinity, 1e309), huge integers, lone surrogates, LIKE wildcards, path tricks, wrong
types and unknown fields, written as raw JSON (Python's `NaN`/`Infinity` literals, `\\udXXX` escapes).
They go over real HTTP to uvicorn on 127.0.0.1, over a real library (Qdrant Edge, the catalog, the
fast-tier fakes for the embedder and speech). No response may be 5xx, every MCP call must be answered
(a result or a JSON-RPC error), and the server must be healthy and answering afterwards.
Deterministic and bounded: derandomised, a fixed number of examples per operation.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api.conftest import serve
from tests.hardened import copy_home, open_fake_library

pytestmark = pytest.mark.slow  # a few hundred requests, some decoding video: ~20-30 s on 2 cores

EXAMPLES = 20
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
BAD_FLOATS = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0])
TEXTS = st.one_of(
    st.sampled_from(["engineers", "", " ", "%", "_", "%_%", "../../etc/passwd", "/etc/passwd.png", "\x00", "a" * 5000]),
    st.text(st.characters(codec=None, categories=["Cs", "L", "N", "P", "Zs", "Cc"]), max_size=40),  # Cs: surrogates
)
SCALARS = st.one_of(
    st.sampled_from([3, 1.5, 0, "dense", "sparse", "video", "clip", "speech_video.mp4"]),  # good in some fields
    BAD_FLOATS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    TEXTS,
    st.booleans(),
    st.none(),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(TEXTS, SCALARS, max_size=3))
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" + "0" * 400]


def raw_json(value: Any) -> str:
    """JSON as a careless client writes it: NaN and Infinity as bare words, surrogates as escapes."""
    return json.dumps(value, allow_nan=True, ensure_ascii=True)


VALID = {
    "query": "hire engineers",
    "question": "How many engineers will be hired?",
    "script": "Hello there.",
    "path": "/nowhere/x.mp4",
    "video": "speech_video.mp4",
    "start": 0.0,
    "end": 5.0,
}
"""Good values for the fields that need one, so that one bad field at a time reaches the code behind it."""


def bodies(properties: list[str]) -> st.SearchStrategy[str]:
    """Raw JSON bodies with the schema's field names: one bad value among good ones, or all fields any
    value (some left out, some unknown), or bare numbers and bytes that are not JSON at all."""
    good = {name: VALID[name] for name in properties if name in VALID}
    one_bad = st.builds(
        lambda name, value: raw_json({**good, name: value}), st.sampled_from(properties), VALUES
    ) | st.builds(
        lambda name, number: raw_json(good)[:-1] + (", " if good else "") + f'"{name}": {number}}}',
        st.sampled_from(properties),
        st.sampled_from(RAW_NUMBERS),
    )
    fields = st.fixed_dictionaries({}, optional={name: VALUES for name in properties})
    extra = st.dictionaries(st.sampled_from(["colour", "__proto__", "k"]), VALUES, max_size=1)
    objects = st.builds(lambda a, b: raw_json({**a, **b}), fields, extra)
    numbers = st.builds(
        lambda name, number: f'{{"{name}": {number}}}', st.sampled_from(properties), st.sampled_from(RAW_NUMBERS)
    )
    return st.one_of(
        st.just(raw_json(good)), one_bad, objects, numbers, st.sampled_from(["", "null", "[]", "{", '"x"', "\xff"])
    )


class Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.statuses: dict[int, int] = {}

    def note(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


@pytest.fixture(scope="module")
def server(hardened_files, hardened_home, tmp_path_factory):
    """uvicorn on 127.0.0.1 over a copy of the hardening library, with a shared request counter."""
    from vidrag.api.app import ApiSettings, create_app

    folder = hardened_files[0]
    home = copy_home(hardened_home, tmp_path_factory.mktemp("fuzz") / "home")
    with pytest.MonkeyPatch.context() as patch:
        library = open_fake_library(home, [folder], patch)
        settings = ApiSettings(home=home, allowed_roots=[folder], api_key=None, llm_url=None, cors_origins=[])
        with serve(create_app(settings, library=library)) as base, httpx.Client(base_url=base, timeout=60) as http:
            yield http, Counter()
        library.close()


def json_operations(http: httpx.Client) -> list[tuple[str, list[str]]]:
    """(path, field names) of every operation whose body is JSON, from the app's OpenAPI document."""
    spec = http.get("/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        body = methods.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            schema = body["schema"]
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            found.append((path, sorted(schema.get("properties", {}))))
    return found


def test_the_rest_schemas_never_give_a_server_error(server):
    http, counter = server
    operations = json_operations(http)
    assert {path for path, _ in operations} == {"/videos", "/search", "/ask", "/generate/talking-head"}
    for path, properties in operations:
        _fuzz_body(http, counter, path, properties)

    @given(t=st.one_of(st.sampled_from(["nan", "inf", "-inf", "1e309", "", "0x10"]), TEXTS), video=TEXTS)
    @BOUNDED
    def get(t: str, video: str) -> None:
        for url, params in (
            (f"/videos/{_path_safe(video)}/thumbnail", {"t": t}),
            (f"/videos/{_path_safe(video)}", {}),
            (f"/jobs/{_path_safe(video)}", {}),
        ):
            response = http.get(url, params={k: _query_safe(v) for k, v in params.items()})
            counter.note(response.status_code)
            assert response.status_code < 500, (url, params, response.status_code, response.text[:300])

    get()
    assert http.get("/health").json() == {"status": "ok"}
    hits = http.post("/search", json={"query": "hire engineers"}).json()["hits"]
    # the truncated copy's first clip ("We will hire") may rank beside the whole sentence
    assert hits and any("engineers" in hit["transcript"] for hit in hits[:2])
    print(f"REST fuzz: {counter.requests} requests, statuses {dict(sorted(counter.statuses.items()))}")


def test_the_mcp_tool_schemas_never_break_a_call_or_the_server(server):
    http, counter = server
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    start = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
    }
    opened = http.post("/mcp", json=start, headers=headers)
    headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
    http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    tools = _rpc(http, headers, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})["result"]["tools"]
    names = [tool["name"] for tool in tools]
    assert names[:6] == ["search_clips", "find_videos", "inspect_clip", "get_transcript", "list_videos", "cut_clip"]
    before = counter.requests
    for tool in tools:
        properties = sorted(tool["inputSchema"].get("properties", {}))
        if tool["name"] == "generate_talking_head":  # never a real video's name: no generation job starts
            properties = [p for p in properties if p != "video"]

        _fuzz_tool(http, headers, counter, tool["name"], properties)
    calls = counter.requests - before
    assert calls >= EXAMPLES * len(tools) // 2
    assert http.get("/health").json() == {"status": "ok"}
    found = _rpc(
        http,
        headers,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "search_clips", "arguments": {"query": "hire engineers"}},
        },
    )
    assert "engineers" in found["result"]["content"][0]["text"]
    print(f"MCP fuzz: {calls} tool calls over HTTP; all requests so far {counter.requests}")


def _fuzz_body(http: httpx.Client, counter: Counter, path: str, properties: list[str]) -> None:
    @given(body=bodies(properties))
    @BOUNDED
    def post(body: str) -> None:
        response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        counter.note(response.status_code)
        assert response.status_code < 500, (path, body, response.status_code, response.text[:300])

    post()


def _fuzz_tool(http: httpx.Client, headers: dict[str, str], counter: Counter, name: str, properties: list[str]) -> None:
    @given(arguments=bodies(properties) if properties else st.just("{}"))
    @BOUNDED
    def call(arguments: str) -> None:
        message = (
            f'{{"jsonrpc": "2.0", "id": 99, "method": "tools/call", '
            f'"params": {{"name": "{name}", "arguments": {arguments or "null"}}}}}'
        )
        response = http.post("/mcp", content=message.encode("utf-8", "backslashreplace"), headers=headers)
        counter.note(response.status_code)
        assert response.status_code < 500, (name, arguments, response.status_code, response.text[:300])
        if response.status_code == 200:
            answer = _last_event(response.text)
            assert "result" in answer or "error" in answer, answer
            if "result" in answer:
                assert answer["result"]["content"][0]["text"], answer

    call()


def _rpc(http: httpx.Client, headers: dict[str, str], message: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/mcp", json=message, headers=headers)
    assert response.status_code == 200, response.text
    return _last_event(response.text)


def _last_event(text: str) -> dict[str, Any]:
    data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1] if data else text)


def _path_safe(text: str) -> str:
    """A path segment httpx can send: surrogates as escaped UTF-8 bytes, / and ? encoded."""
    from urllib.parse import quote

    return quote(text.encode("utf-8", "surrogatepass"), safe="") or "x"


def _query_safe(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
