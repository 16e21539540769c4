"""`POST /ask` (JSON and SSE), sessions and `vidrag ask --json` with the LLM agent over HTTP (a fake vLLM).

The app and the CLI run the real `answer_question` with `VIDRAG_LLM_URL` pointed at
`tests.agent.wire.WireServer`, over the in-memory `TinyLibrary`, so no sample library is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.test_llm_wire import KEY, SEARCH, cite_latest
from tests.agent.tiny_library import TinyLibrary
from tests.agent.wire import Turn, WireServer, flavor
from vidrag.agent.prompts import SYSTEM_PROMPT

ROOT = Path(__file__).parents[2]
ANSWER = "Steam makes it crisp [baking_bread.mp4 @ 00:16.0–00:24.0]."


@pytest.fixture
def llm():
    fake = WireServer(flavor("vllm"), api_key=KEY)
    with fake as url:
        fake.base = url
        yield fake


@pytest.fixture
def client(llm, tmp_path):
    from fastapi.testclient import TestClient

    from vidrag.api.app import ApiSettings, create_app

    settings = ApiSettings(
        home=tmp_path,
        llm_url=llm.base,
        llm_model=llm.flavor.model,
        llm_api_key=KEY,
        llm_timeout=1.0,
        llm_retries=0,
        api_key=None,
        allowed_roots=[],
        cors_origins=[],
        host="127.0.0.1",
    )
    with TestClient(create_app(settings, library=TinyLibrary(tmp_path))) as test_client:
        yield test_client


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def script(llm: WireServer) -> None:
    llm.script = [Turn(calls=[SEARCH]), lambda body: Turn(content=f"Steam makes it crisp {cite_latest(body)}.")]


def test_ask_sse_sends_steps_then_tokens_then_the_answer(llm, client):
    script(llm)
    with client.stream("POST", "/ask", json={"question": "How is the crust made crisp?", "stream": True}) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        received = events(reply.read().decode())
    kinds = [kind for kind, _ in received]
    assert kinds[0] == "step" and kinds[-1] == "answer" and set(kinds[1:-1]) == {"token"}
    assert received[0][1]["tool"] == "search_clips"
    assert "".join(data["text"] for kind, data in received if kind == "token") == ANSWER
    answer = received[-1][1]
    assert answer["answer"] == ANSWER and answer["mode"] == "llm:function"
    assert answer["citations"][0]["media_url"].endswith("#t=16.00,24.00")
    assert all(body["stream"] is True for body in llm.bodies())


def test_ask_sse_reports_a_server_error_as_one_error_event(llm, client):
    llm.script = [llm.flavor.error(500, "CUDA out of memory")]
    with client.stream("POST", "/ask", json={"question": "Why?", "stream": True}) as reply:
        received = events(reply.read().decode())
    assert [kind for kind, _ in received] == ["error"]
    error = received[0][1]
    assert error["status"] == 503 and error["detail"] == "backend unavailable"
    assert "HTTP 500: CUDA out of memory" in error["message"] and "Traceback" not in error["message"]


def test_ask_json_and_a_multi_turn_session(llm, client):
    script(llm)
    first = client.post("/ask", json={"question": "How is the crust made crisp?", "session_id": "bread"})
    assert first.status_code == 200 and first.json()["answer"] == ANSWER
    llm.script = [Turn(content="As said before, steam from a tray of water.")]
    second = client.post("/ask", json={"question": "And where does the steam come from?", "session_id": "bread"})
    assert second.status_code == 200 and second.json()["session_id"] == "bread"
    messages = llm.bodies()[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"] == "How is the crust made crisp?" and messages[2]["content"] == ANSWER
    assert messages[3]["content"] == "And where does the steam come from?"
    assert all(body["stream"] is False for body in llm.bodies())


def test_ask_json_timeout_is_a_503(llm, client):
    from tests.agent.wire import Reply

    llm.script = [Reply(stall=30)]
    reply = client.post("/ask", json={"question": "Why?"})
    assert reply.status_code == 503
    assert reply.json()["detail"] == "backend unavailable" and "did not answer within 1 s" in reply.json()["message"]


CLI = """
import os
import vidrag.api.cli as cli
from tests.agent.tiny_library import TinyLibrary
from vidrag.api import cli_common
cli_common.open_library = lambda for_ingest=False: TinyLibrary(os.environ["VIDRAG_HOME"])
cli.main()
"""


def vidrag_ask(llm: WireServer, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "VIDRAG_HOME": str(home),
        "VIDRAG_LLM_URL": llm.base,
        "VIDRAG_LLM_MODEL": llm.flavor.model,
        "VIDRAG_LLM_API_KEY": KEY,
        "VIDRAG_LLM_TIMEOUT": "1",
        "VIDRAG_LLM_RETRIES": "0",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-c", CLI, "ask", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_vidrag_ask_json_and_a_clear_error(llm, tmp_path):
    script(llm)
    llm.script.append(llm.flavor.error(500, "CUDA out of memory"))
    done = vidrag_ask(llm, tmp_path, "How is the crust made crisp?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == ANSWER and result["mode"] == "llm:function"
    assert [(c["video"], c["start"], c["end"]) for c in result["citations"]] == [("baking_bread.mp4", 16.0, 24.0)]
    assert [s["tool"] for s in result["steps"]] == ["search_clips"]
    failed = vidrag_ask(llm, tmp_path, "Why?", "--json")
    assert failed.returncode == 3 and failed.stdout == ""
    assert "error: The LLM server at" in failed.stderr and "HTTP 500: CUDA out of memory" in failed.stderr
    assert "Traceback" not in failed.stderr and "Event loop is closed" not in done.stderr + failed.stderr
