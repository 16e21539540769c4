"""The OpenAI-compatible captioner against a real HTTP server on 127.0.0.1 that answers like vLLM."""

from __future__ import annotations

import base64
import io
import json
import socket
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from vidrag.indexing import sampling
from vidrag.indexing.captioners import make_captioner
from vidrag.indexing.captioners.base import ClipFrames
from vidrag.indexing.captioners.openai_server import OpenAICaptioner, VLLMOfflineCaptioner
from vidrag.storage.errors import BackendUnavailable, InputError

MODEL = "openbmb/MiniCPM-V-4_5"
CAPTION = (
    'PEOPLE: a cyclist\nOBJECTS: a bike\nACTIONS: rides past\nSETTING: a street\nON-SCREEN TEXT: "STOP"\n'
    "SUMMARY: A cyclist rides past a stop sign."
)


def frame(value: int, h: int = 90, w: int = 160) -> np.ndarray:
    """A smooth gradient offset by `value`, so frames are distinct and survive JPEG."""
    ramp = np.linspace(0, 60, w, dtype=np.float32)[None, :, None]
    return np.clip(value + ramp + np.zeros((h, w, 3), np.float32), 0, 255).astype(np.uint8)


def make_clip(start: float, end: float, decode_fps: float = 10.0, base: int = 20) -> ClipFrames:
    count = round((end - start) * decode_fps)
    times = [start + (k + 0.5) / decode_fps for k in range(count)]
    return ClipFrames("v1", start, end, [frame(base + 2 * k) for k in range(count)], times)


def decode_video_url(url: str) -> list[np.ndarray]:
    prefix = "data:video/jpeg;base64,"
    assert url.startswith(prefix)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(p)))) for p in url[len(prefix) :].split(",")]


HOLD_S = 10.0


class FakeVLLM:
    """Scripted server state: queued replies for chat completions, served model ids, delays."""

    def __init__(self) -> None:
        self.models = [MODEL]
        self.script: list[tuple[int, str]] = []
        self.delay = 0.0
        self.hold = 0  # a request waits (up to HOLD_S) until this many are in flight
        self.requests: list[tuple[str, str, dict | None]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Condition()

    def reply(self, body: dict) -> tuple[int, str]:
        if self.script:
            return self.script.pop(0)
        first = decode_video_url(body["messages"][0]["content"][0]["video_url"]["url"])[0]
        content = f"{CAPTION}\nSUMMARY: first frame {int(round(float(first[:, 0].mean())))}"
        return 200, json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 700, "completion_tokens": 40, "total_tokens": 740},
        })  # fmt: skip


@pytest.fixture
def server():
    state = FakeVLLM()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            state.requests.append(("GET", self.path, None))
            if self.path == "/v1/models":
                data = [{"id": m, "object": "model", "owned_by": "vllm"} for m in state.models]
                self._send(200, json.dumps({"object": "list", "data": data}))
            else:
                self._send(404, '{"detail": "Not Found"}')

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(("POST", self.path, body))
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.lock.notify_all()
                # a client that sends one request at a time never reaches `hold`: each waits HOLD_S alone
                state.lock.wait_for(lambda: state.in_flight >= state.hold, timeout=HOLD_S)
            try:
                time.sleep(state.delay)
                self._send(*state.reply(body))
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                with state.lock:
                    state.in_flight -= 1

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    # a short poll interval: shutdown() waits for one poll
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()
    httpd.server_close()


def posts(state: FakeVLLM) -> list[dict]:
    return [body for method, _, body in state.requests if method == "POST"]


def test_request_body_is_exactly_what_vllm_expects(server):
    cap = OpenAICaptioner(server.url, MODEL, fps=2, max_tokens=300, retries=0)
    clip = make_clip(120.0, 126.0)  # from the middle of a long video
    caption = cap.caption([clip])[0]

    (body,) = posts(server)
    assert set(body) == {"model", "messages", "max_tokens", "temperature", "chat_template_kwargs"}
    assert body["model"] == MODEL and body["max_tokens"] == 300 and body["temperature"] == 0.0
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    (message,) = body["messages"]
    assert message["role"] == "user" and [p["type"] for p in message["content"]] == ["video_url", "text"]
    assert "ON-SCREEN TEXT:" in message["content"][1]["text"]
    sent = decode_video_url(message["content"][0]["video_url"]["url"])
    chosen = sampling.select_frames(clip.times, clip.start, clip.end, 2, 32)
    assert len(sent) == len(chosen) == 12
    for got, index in zip(sent, chosen):
        want = np.asarray(sampling.fit_frame(clip.frames[index], 448)).astype(np.float32)
        assert got.shape == want.shape
        assert np.abs(got.astype(np.float32) - want).mean() < 3.0
    assert caption.fields["on_screen_text"] == '"STOP"' and caption.raw.startswith("PEOPLE")
    assert cap.describe()["prompt_tokens"] == 700


def test_clips_run_concurrently_and_come_back_in_order(server):
    server.hold = 2  # the server answers only once two requests are open (a fixed delay was timing-bound)
    cap = OpenAICaptioner(server.url, MODEL, fps=1, concurrency=2, retries=0)
    clips = [make_clip(0, 2, base=10 + 40 * i) for i in range(4)]
    captions = cap.caption(clips)
    firsts = [int(c.fields["summary"].split()[-1]) for c in captions]
    assert firsts == sorted(firsts) and len(set(firsts)) == 4
    assert server.max_in_flight == 2
    server.hold = 0
    cap.caption([make_clip(0, 1)])
    assert [r[1] for r in server.requests if r[0] == "GET"] == ["/v1/models"]  # checked once


def test_500_then_success_retries_with_backoff(server):
    server.script = [(500, '{"error": "engine busy"}'), (429, '{"error": "slow down"}')]
    waits: list[float] = []
    cap = OpenAICaptioner(server.url, MODEL, retries=3, backoff=0.5, sleep=waits.append)
    caption = cap.caption([make_clip(0, 2)])[0]
    assert caption.fields["people"] == "a cyclist"
    assert waits == [0.5, 1.0] and cap.stats["retries"] == 2 and len(posts(server)) == 3


def test_persistent_5xx_gives_up_naming_the_url(server):
    server.script = [(503, "down")] * 3
    cap = OpenAICaptioner(server.url, MODEL, retries=2, backoff=0, sleep=lambda s: None)
    with pytest.raises(BackendUnavailable, match="HTTP 503") as err:
        cap.caption([make_clip(0, 1)])
    assert server.url in str(err.value)


def test_connection_refused_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    cap = OpenAICaptioner(url, MODEL, retries=1, backoff=0, sleep=lambda s: None)
    with pytest.raises(BackendUnavailable, match="could not connect") as err:
        cap.caption([make_clip(0, 1)])
    assert url in str(err.value)


def test_timeout_is_retried_then_reported(server):
    cap = OpenAICaptioner(server.url, MODEL, timeout=0.2, retries=1, backoff=0, sleep=lambda s: None)
    cap.check_model()
    server.delay = 1.0
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="timed out"):
        cap.caption([make_clip(0, 1)])
    assert time.monotonic() - started < 1.5 and len(posts(server)) == 2


def test_model_not_served_is_clear_and_sends_no_caption(server):
    server.models = ["Qwen/Qwen3-8B"]
    cap = OpenAICaptioner(server.url, MODEL, retries=0)
    with pytest.raises(BackendUnavailable, match="does not serve model") as err:
        cap.caption([make_clip(0, 1)])
    assert "Qwen/Qwen3-8B" in str(err.value) and server.url in str(err.value)
    assert posts(server) == []


def test_rejected_request_is_an_input_error(server):
    server.script = [(400, '{"error": "prompt is longer than max-model-len"}')]
    cap = OpenAICaptioner(server.url, MODEL, retries=3, sleep=lambda s: None)
    with pytest.raises(InputError, match="max-model-len"):
        cap.caption([make_clip(0, 1)])
    assert len(posts(server)) == 1  # 4xx is not retried


def test_malformed_reply_is_reported(server):
    server.script = [(200, '{"unexpected": true}')]
    with pytest.raises(BackendUnavailable, match="not a chat completion"):
        OpenAICaptioner(server.url, MODEL, retries=0).caption([make_clip(0, 1)])


def test_ask_sends_all_given_frames_the_question_and_history(server):
    server.script = [(200, json.dumps({"choices": [{"message": {"content": "<think>x</think>Yes, red."}}]}))]
    cap = OpenAICaptioner(server.url, MODEL, max_frames=16)
    answer = cap.ask(make_clip(40.0, 41.0, decode_fps=12), "Is it red?", history=[("What is it?", "A bike.")])
    assert answer == "Yes, red."
    (body,) = posts(server)
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert len(decode_video_url(messages[0]["content"][0]["video_url"]["url"])) == 12
    assert (
        "What is it?" in messages[0]["content"][1]["text"] and "40.0 s to 41.0 s" in messages[0]["content"][1]["text"]
    )
    assert messages[1]["content"] == "A bike." and messages[2]["content"] == "Is it red?"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_options_are_validated_and_registry_builds_it(server):
    with pytest.raises(InputError, match="VIDRAG_CAPTIONER_URL"):
        OpenAICaptioner(None)
    with pytest.raises(InputError, match="fps"):
        OpenAICaptioner(server.url, fps=0)
    cap = make_captioner("openai", url=server.url + "/", model=MODEL, api_key="k", batch=8, packing=3)
    assert cap.describe()["url"] == server.url and cap.concurrency == 8
    cap.close()


def test_vllm_offline_engine_gets_frames_and_the_video_placeholder(monkeypatch):
    seen = {}

    class Engine:
        def __init__(self, **options):
            seen["options"] = options

        def get_tokenizer(self):
            return types.SimpleNamespace(
                apply_chat_template=lambda msgs, **kw: seen.setdefault("template", (msgs, kw)) and "PROMPT"
            )

        def generate(self, requests, params):
            seen["requests"], seen["params"] = requests, params
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=CAPTION)]) for _ in requests]

    fake = types.SimpleNamespace(LLM=Engine, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    cap = VLLMOfflineCaptioner(fps=2, max_frames=8)
    captions = cap.caption([make_clip(0, 3), make_clip(3, 5)])
    assert [c.fields["objects"] for c in captions] == ["a bike", "a bike"]
    assert seen["options"]["limit_mm_per_prompt"] == {"image": 4, "video": 1}
    assert seen["options"]["trust_remote_code"] and seen["options"]["dtype"] == "bfloat16"
    msgs, kwargs = seen["template"]
    assert msgs[0]["content"].startswith("(<video>./</video>)\n") and kwargs["enable_thinking"] is False
    videos = [r["multi_modal_data"]["video"] for r in seen["requests"]]
    assert [v.shape for v in videos] == [(6, 90, 160, 3), (4, 90, 160, 3)] and videos[0].dtype == np.uint8
    assert seen["params"] == {"temperature": 0.0, "max_tokens": 384}


def test_vllm_offline_without_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(BackendUnavailable, match=r"vidrag\[vllm\]"):
        VLLMOfflineCaptioner().caption([make_clip(0, 1)])


def test_settings_reach_the_vllm_offline_captioner(monkeypatch):
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import make_captioner as from_settings

    monkeypatch.setitem(sys.modules, "vllm", None)  # building it must not need vllm; captioning does
    cap = from_settings(Settings(captioner="vllm", captioner_max_new_tokens=200, captioner_fps=1.0))
    assert isinstance(cap, VLLMOfflineCaptioner)
    assert (cap.max_tokens, cap.fps, cap.model) == (200, 1.0, "openbmb/MiniCPM-V-4_5")
