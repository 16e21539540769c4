"""The LLM agent over HTTP against the wire formats of vLLM (hermes parser), Ollama and OpenAI.

Each scenario runs `answer_question` with `VIDRAG_LLM_URL` pointed at `tests.agent.wire.WireServer`
speaking one server's format, non-streamed (`--json`, plain POST /ask) and streamed (tokens to
stderr or SSE), and ends in a cited answer, a "not found" answer or one clear `BackendUnavailable`
message — never a hang or a traceback. The recorded requests are checked field by field.
"""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from tests.agent.tiny_library import TinyLibrary
from tests.agent.wire import FLAVORS, Reply, Turn, WireServer, flavor
from vidrag.agent import answer_question
from vidrag.agent.llm_server import visible_text
from vidrag.agent.prompts import SYSTEM_PROMPT
from vidrag.api.wiring import make_llm
from vidrag.storage.errors import BackendUnavailable
from vidrag.tools.video_tools import DATA_CLOSE, DATA_OPEN

KEY = "sk-test-key"
QUESTION = "How does the bread get a crisp crust?"
SEARCH = ("search_clips", json.dumps({"query": "crisp crust steam", "k": 3}))
TOOLS = {"search_clips", "find_videos", "inspect_clip", "get_transcript", "list_videos", "cut_clip"}


def cite_latest(body: dict[str, Any]) -> str:
    """The `cite_as` of the first result of the latest tool message the agent sent."""
    for message in reversed(body["messages"]):
        if message["role"] == "tool":
            data = json.loads(message["content"])
            rows = data.get("results") or data.get("lines") or data.get("transcript_lines") or []
            if rows:
                return rows[0]["cite_as"]
    raise AssertionError("no tool result with a citable row was sent")


def settings(url: str, model: str, **overrides: Any) -> Any:
    values = {
        "llm_url": url,
        "llm_model": model,
        "llm_api_key": KEY,
        "llm_function_calling": True,
        "llm_timeout": 1.0,
        "llm_retries": 0,
        **overrides,
    }
    return types.SimpleNamespace(**values)


def ask(server: WireServer, url: str, library: Any, streamed: bool, **overrides: Any) -> tuple[dict, list]:
    events: list[dict[str, Any]] = []
    result = answer_question(
        library,
        QUESTION,
        llm=make_llm(settings(url, server.flavor.model, **overrides)),
        stream=events.append if streamed else None,
    )
    return result, events


def check_request(body: dict[str, Any], server: WireServer, streamed: bool) -> None:
    """What OpenAILike sends: the model, the system prompt first, the tools as JSON schemas."""
    assert body["model"] == server.flavor.model
    assert body["stream"] is streamed
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert DATA_OPEN in body["messages"][0]["content"] and DATA_CLOSE in body["messages"][0]["content"]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True and body["temperature"] == 0.1
    specs = {t["function"]["name"]: t["function"] for t in body["tools"]}
    assert TOOLS <= set(specs) and all(t["type"] == "function" for t in body["tools"])
    search = specs["search_clips"]["parameters"]
    assert search["type"] == "object" and search["required"] == ["query"]
    assert search["properties"]["k"]["type"] == "integer" and search["additionalProperties"] is False
    assert "Search the video library" in specs["search_clips"]["description"]


@pytest.fixture(params=FLAVORS)
def server(request):
    fake = WireServer(flavor(request.param), api_key=KEY)
    with fake as url:
        fake.base = url
        yield fake


@pytest.fixture
def library(tmp_path):
    return TinyLibrary(tmp_path)


@pytest.fixture(params=[False, True], ids=["whole", "streamed"])
def streamed(request):
    return request.param


def test_one_tool_call_then_a_cited_answer(server, library, streamed):
    server.script = [Turn(calls=[SEARCH]), lambda body: Turn(content=f"Steam makes it crisp {cite_latest(body)}.")]
    result, events = ask(server, server.base, library, streamed)
    assert result["mode"] == "llm:function"
    assert result["answer"] == "Steam makes it crisp [baking_bread.mp4 @ 00:16.0–00:24.0]."
    assert [(c["video"], c["start"], c["end"]) for c in result["citations"]] == [("baking_bread.mp4", 16.0, 24.0)]
    assert [s["tool"] for s in result["steps"]] == ["search_clips"]
    assert result["steps"][0]["args"] == {"query": "crisp crust steam", "k": 3}
    first, second = server.bodies()
    for body in (first, second):
        check_request(body, server, streamed)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert all(r.headers["content-type"] == "application/json" for r in server.requests)
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    call = second["messages"][2]["tool_calls"][0]
    assert call["function"]["name"] == "search_clips"
    assert json.loads(call["function"]["arguments"]) == {"query": "crisp crust steam", "k": 3}
    tool = second["messages"][3]
    assert tool["tool_call_id"] == call["id"] and DATA_OPEN in tool["content"]
    if streamed:
        tokens = "".join(e["delta"] for e in events if e["type"] == "token")
        assert tokens == result["answer"]
        kinds = [e["type"] for e in events]
        assert kinds.index("step") < kinds.index("token")


def cite_transcript(body: dict[str, Any]) -> str:
    """The `cite_as` of the first line of the transcript the agent sent back (results of parallel
    calls come in any order, so not simply the latest)."""
    for message in body["messages"]:
        if message["role"] == "tool":
            data = json.loads(message["content"])
            rows = data.get("lines") or data.get("transcript_lines") or []
            if rows:
                return rows[0]["cite_as"]
    raise AssertionError("no transcript was sent")


def test_two_tool_calls_in_one_turn(server, library, streamed):
    transcript = ("get_transcript", json.dumps({"video": "baking_bread.mp4", "start": 16, "end": 24}))
    server.script = [
        Turn(calls=[SEARCH, transcript]),
        lambda body: Turn(content=f"A tray of water makes steam {cite_transcript(body)}."),
    ]
    result, _ = ask(server, server.base, library, streamed)
    assert [s["tool"] for s in result["steps"]] == ["search_clips", "get_transcript"]
    second = server.bodies()[1]
    calls = second["messages"][2]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["search_clips", "get_transcript"]
    assert len({c["id"] for c in calls}) == 2
    tools = [m for m in second["messages"] if m["role"] == "tool"]
    # one result per call, matched by id: the calls run in parallel, so results come in any order
    assert sorted(m["tool_call_id"] for m in tools) == sorted(c["id"] for c in calls)
    assert result["citations"][0]["start"] == 16.0 and result["removed_citations"] == []


def test_arguments_split_across_many_chunks(server, library, streamed):
    server.script = [Turn(calls=[SEARCH], pieces=9), lambda body: Turn(content=f"Steam {cite_latest(body)}.", pieces=7)]
    result, _ = ask(server, server.base, library, streamed)
    assert result["steps"][0]["args"] == {"query": "crisp crust steam", "k": 3}
    assert result["citations"] and result["answer"].startswith("Steam [baking_bread.mp4")


def test_answer_without_tools_says_not_found(server, library, streamed):
    server.script = [Turn(content="The library does not contain this; no video covers sourdough starters.")]
    result, events = ask(server, server.base, library, streamed)
    assert result["answer"].startswith("The library does not contain this")
    assert result["citations"] == [] and result["steps"] == []
    assert len(server.bodies()) == 1


def test_unknown_tool_is_reported_to_the_llm(server, library, streamed):
    server.script = [
        Turn(calls=[("web_search", json.dumps({"q": "bread"}))]),
        lambda body: Turn(content="I could not find this in the video library."),
    ]
    result, _ = ask(server, server.base, library, streamed)
    tool = server.bodies()[1]["messages"][-1]
    assert tool["role"] == "tool" and "web_search not found" in tool["content"]
    assert result["answer"] == "I could not find this in the video library." and result["steps"] == []


@pytest.mark.parametrize("arguments", ['{"query": "crisp crust", k: 3', '{"query" "crisp"}', "[1, 2]"])
def test_invalid_json_arguments_are_reported_to_the_llm(server, library, streamed, arguments, caplog):
    server.script = [
        Turn(calls=[("search_clips", arguments)]),
        Turn(calls=[SEARCH]),
        lambda body: Turn(content=f"Steam {cite_latest(body)}."),
    ]
    result, _ = ask(server, server.base, library, streamed)
    error = json.loads(server.bodies()[1]["messages"][-1]["content"])["error"]
    assert "search_clips" in error and ("not valid JSON" in error or "Bad arguments" in error)
    assert [s["tool"] for s in result["steps"]] == ["search_clips"] and result["citations"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_reasoning_stays_out_of_the_answer(server, library, streamed):
    think = "The user asks about crust. I should search."
    server.script = [
        Turn(reasoning=think, calls=[SEARCH]),
        lambda body: Turn(reasoning="The clip at 16 s says steam.", content=f"Steam {cite_latest(body)}."),
    ]
    result, events = ask(server, server.base, library, streamed)
    assert result["answer"] == "Steam [baking_bread.mp4 @ 00:16.0–00:24.0]."
    assert "think" not in json.dumps(events).lower() and "should search" not in json.dumps(events)


def test_think_tags_in_content_are_hidden(server, library, streamed):
    """Qwen3 served without a reasoning parser writes its thinking into `content`."""
    server.script = [
        Turn(content="<think>\nSearch first.\n</think>\n\n", calls=[SEARCH]),
        lambda body: Turn(content=f"<think>\nThe clip says steam.\n</think>\n\nSteam {cite_latest(body)}.", pieces=6),
    ]
    result, events = ask(server, server.base, library, streamed)
    assert result["answer"] == "Steam [baking_bread.mp4 @ 00:16.0–00:24.0]."
    tokens = "".join(e["delta"] for e in events if e["type"] == "token")
    assert "think" not in tokens and "Search first" not in tokens
    if streamed:
        assert tokens.strip() == result["answer"]


def test_reasoning_field_of_newer_vllm(library, streamed):
    fake = WireServer(flavor("vllm", reasoning_field="reasoning"), api_key=KEY)
    with fake as url:
        fake.script = [
            Turn(reasoning="Hmm.", calls=[SEARCH]),
            lambda body: Turn(reasoning="Ok.", content=f"Steam {cite_latest(body)}."),
        ]
        result, events = ask(fake, url, library, streamed)
    assert result["answer"] == "Steam [baking_bread.mp4 @ 00:16.0–00:24.0]." and "Hmm" not in json.dumps(events)


def expect_error(server: WireServer, library: Any, streamed: bool, *fragments: str, **overrides: Any) -> str:
    with pytest.raises(BackendUnavailable) as caught:
        ask(server, server.base, library, streamed, **overrides)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in message
    return message


def test_server_error_500_is_one_clear_error(server, library, streamed):
    server.script = [server.flavor.error(500, "CUDA out of memory")]
    expect_error(server, library, streamed, "answered HTTP 500: CUDA out of memory", server.base)
    assert len(server.requests) == 1


def test_500_then_success_is_retried(server, library, streamed):
    server.script = [server.flavor.error(503, "loading model"), Turn(content="The library does not contain this.")]
    result, _ = ask(server, server.base, library, streamed, llm_retries=1)
    assert result["answer"] == "The library does not contain this." and len(server.requests) == 2


def test_a_server_that_never_answers_times_out(server, library, streamed):
    server.script = [Reply(stall=30)]
    expect_error(server, library, streamed, "did not answer within 0.25 s", "VIDRAG_LLM_TIMEOUT", llm_timeout=0.25)


def test_a_stream_that_stalls_midway_times_out(server, library):
    server.script = [lambda body: _stall_after(server.flavor.reply(Turn(content="Steam makes it crisp."), body), 2)]
    expect_error(server, library, True, "did not answer within 0.25 s", llm_timeout=0.25)


def _stall_after(reply: Reply, parts: int) -> Reply:
    """The reply's first parts, then silence far past the client's timeout."""
    reply.parts, reply.pause = reply.parts[:parts], 30.0
    return reply


def test_a_connection_closed_midway_is_one_clear_error(server, library, streamed):
    def dropping(body):
        reply = server.flavor.reply(Turn(content="Steam makes the crust crisp and shiny."), body)
        if not reply.chunked:  # half the JSON body, then the socket closes
            whole = reply.parts[0]
            reply.parts = [whole[: len(whole) // 2], whole[len(whole) // 2 :]]
        reply.drop_after = 1 if not reply.chunked else 3
        return reply

    server.script = [dropping]
    expect_error(server, library, streamed, "closed the connection mid-answer", "VIDRAG_LLM_URL")


def test_wrong_api_key_says_which_setting(server, library):
    expect_error(server, library, False, "HTTP 401", "VIDRAG_LLM_API_KEY", llm_api_key="wrong")


def test_vllm_without_auto_tool_choice_names_the_flags(library, streamed):
    fake = WireServer(flavor("vllm", auto_tool_choice=False), api_key=KEY)
    with fake as url:
        fake.base = url
        message = expect_error(
            fake,
            library,
            streamed,
            "HTTP 400",
            "VIDRAG_LLM_FUNCTION_CALLING=false",
            "--enable-auto-tool-choice --tool-call-parser hermes",
        )
    assert "auto" in message


def test_react_fallback_for_models_without_tool_calling(server, library, streamed):
    """VIDRAG_LLM_FUNCTION_CALLING=false: no `tools` in the request, ReAct text in the answers."""

    def action(body):
        return Turn(
            content="Thought: I need to search.\nAction: search_clips\n"
            'Action Input: {"query": "crisp crust steam", "k": 3}'
        )

    def answer(body):
        observation = body["messages"][-1]["content"]
        start = observation.index("[baking_bread.mp4")
        return Turn(
            content="Thought: I can answer without using any more tools.\n"
            f"Answer: Steam makes it crisp {observation[start : observation.index(']', start) + 1]}."
        )

    server.script = [action, answer]
    result, _ = ask(server, server.base, library, streamed, llm_function_calling=False)
    assert result["mode"] == "llm:react"
    assert result["answer"] == "Steam makes it crisp [baking_bread.mp4 @ 00:16.0–00:24.0]."
    first = server.bodies()[0]
    assert "tools" not in first and "tool_choice" not in first
    assert SYSTEM_PROMPT in first["messages"][0]["content"] and "search_clips" in first["messages"][0]["content"]


def test_visible_text_hides_think_blocks():
    assert visible_text("<think>a</think>\n\nHi") == "\n\nHi"
    assert visible_text("Hi <thi") == "Hi " and visible_text("Hi <think>still thinking") == "Hi "
    assert visible_text("plain") == "plain"


@pytest.mark.parametrize("llm_flavor", FLAVORS)
def test_inspect_clip_re_asks_a_minicpm_server_in_the_same_run(llm_flavor, tmp_path, streamed):
    """The agent's LLM and the captioner (vLLM serving MiniCPM-V-4.5) are two servers, two formats."""
    from vidrag.indexing.captioners.openai_server import OpenAICaptioner

    llm = WireServer(flavor(llm_flavor), api_key=KEY)
    vision = WireServer(flavor("vllm", model="openbmb/MiniCPM-V-4_5"), api_key="vision-key")
    with llm as llm_url, vision as vision_url:
        captioner = OpenAICaptioner(vision_url, "openbmb/MiniCPM-V-4_5", "vision-key", timeout=2.0, retries=0)
        library = TinyLibrary(tmp_path, captioner=captioner)
        inspect = json.dumps({"video": "baking_bread.mp4", "start": 16, "end": 24, "question": "What is in the oven?"})
        vision.script = [Turn(content="<think>Look.</think>A metal tray of water sits under the loaf.")]
        llm.script = [
            Turn(calls=[("inspect_clip", inspect)]),
            lambda body: Turn(content=f"A tray of water steams the loaf {cite_latest(body)}."),
        ]
        result, _ = ask(llm, llm_url, library, streamed)
        captioner.close()
    assert [s["tool"] for s in result["steps"]] == ["inspect_clip"]
    assert result["citations"] and result["citations"][0]["video"] == "baking_bread.mp4"
    assert [r.path for r in vision.requests] == ["/v1/models", "/v1/chat/completions"]
    asked = vision.bodies()[0]
    assert asked["model"] == "openbmb/MiniCPM-V-4_5" and asked["chat_template_kwargs"] == {"enable_thinking": False}
    assert "stream" not in asked and "tools" not in asked
    video, text = asked["messages"][0]["content"]
    assert video["type"] == "video_url" and video["video_url"]["url"].startswith("data:video/jpeg;base64,")
    assert "What is in the oven?" in text["text"]
    assert all(r.headers["authorization"] == "Bearer vision-key" for r in vision.requests)
    tool = json.loads(llm.bodies()[1]["messages"][-1]["content"])
    assert tool["caption"] == f"{DATA_OPEN}A metal tray of water sits under the loaf.{DATA_CLOSE}"
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in llm.requests)


def test_steps_keep_the_order_of_the_calls_when_parallel_calls_finish_out_of_order(tmp_path, monkeypatch):
    """An agent's calls of one turn run in threads: a slow first call that finishes last is still the
    first step (the trace a user reads follows the model's calls, whatever the load)."""
    import threading

    from vidrag.tools.video_tools import VideoTools

    library = TinyLibrary(tmp_path)
    tools = VideoTools(library)
    release, started = threading.Event(), threading.Event()
    videos = library.videos

    def slow_videos():
        started.set()
        assert release.wait(10)
        return videos()

    monkeypatch.setattr(library, "videos", slow_videos)
    first = threading.Thread(target=tools.list_videos)
    first.start()
    assert started.wait(10)
    tools.get_transcript("baking_bread.mp4", 16, 24)  # begins second, ends first
    release.set()
    first.join(10)
    assert [step.tool for step in tools.steps] == ["list_videos", "get_transcript"]
    tools.new_run()
    assert tools.steps == []
