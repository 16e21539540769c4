"""Captions through an OpenAI-compatible chat server (vLLM serving MiniCPM-V-4.5), or vLLM offline.

Frames are sampled here, at bin centres, and sent as ONE `video_url` content part holding a
`data:video/jpeg;base64,<jpg1>,<jpg2>,...` list, so the server sees exactly those frames (a whole
base64 mp4 hangs vLLM on long videos, and server-side sampling defaults to 32 frames). Every
request carries `chat_template_kwargs: {"enable_thinking": false}`. Requests run a few at a time
from a thread pool, with timeouts and retries with exponential backoff on 429, 5xx and connection
errors; the served model list is checked once, on first use. vLLM does not pack frames: each is
its own ~66-token image, so keep frames per clip modest (30 frames ≈ 2,000 tokens).

`VLLMOfflineCaptioner` runs the same prompt through `vllm.LLM` in process for bulk ingest on a GPU box.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vidrag.indexing import sampling
from vidrag.indexing.caption_prompt import ask_prompt, caption_prompt, strip_thinking, to_caption
from vidrag.indexing.captioners.base import Caption, Captioner, ClipFrames
from vidrag.storage.errors import BackendUnavailable, InputError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "openbmb/MiniCPM-V-4_5"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
VLLM_VIDEO_PLACEHOLDER = "(<video>./</video>)"


def encode_jpeg(image: Any, quality: int = 85) -> str:
    """Base64 text of a PIL image saved as JPEG."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def video_data_url(images: Sequence[Any], quality: int = 85) -> str:
    """`data:video/jpeg;base64,<jpg1>,<jpg2>,...` for vLLM's frame-list video input."""
    return "data:video/jpeg;base64," + ",".join(encode_jpeg(image, quality) for image in images)


def pick_frames(clip: ClipFrames, fps: float, max_frames: int, max_side: int) -> tuple[list[Any], list[float]]:
    """The clip's frames nearest the bin centres at `fps` (all frames when fps is 0), shrunk.

    Raises:
        InputError: no frames, or frames and times of different lengths.
    """
    if not clip.frames or len(clip.frames) != len(clip.times):
        raise InputError(
            f"Clip {clip.video_id}@{clip.start:.2f}-{clip.end:.2f}s has {len(clip.frames)} frames and "
            f"{len(clip.times)} times; need at least one frame with one time each."
        )
    if fps:
        chosen = sampling.select_frames(clip.times, clip.start, clip.end, fps, max_frames)
    else:
        chosen = sampling.evenly_spaced(len(clip.frames), max_frames)
    images = [sampling.fit_frame(clip.frames[i], max_side) for i in chosen]
    return images, [float(clip.times[i]) for i in chosen]


class OpenAICaptioner(Captioner):
    """Captioner over an OpenAI-compatible `/chat/completions` endpoint (e.g. `vllm serve`).

    Args:
        url: base URL including `/v1`, e.g. `http://vllm:8000/v1`.
        model: served model name.
        api_key: bearer token, if the server wants one.
        fps: frames per second of video sent per clip (default 2).
        max_frames: cap on frames per clip; keep within the server's `--limit-mm-per-prompt`
            and `--max-model-len` (~66 tokens per frame).
        max_side: longest frame side sent.
        max_tokens: generation limit per answer.
        concurrency: requests in flight at once.
        timeout: seconds to wait for one reply; connect_timeout: seconds to connect.
        retries: further attempts after a 429/5xx/connection failure; backoff: first wait, seconds,
            doubled each time.
        client: an `httpx.Client` to use instead of one built here.

    Raises:
        InputError: no URL, or a bad fps / limit.
    """

    name = "openai"
    parallel_workers = 2  # the client bounds its own requests per server

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        *,
        fps: float | None = 2.0,
        max_frames: int = 32,
        max_side: int = 448,
        max_tokens: int = 384,
        concurrency: int = 4,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 1.0,
        jpeg_quality: int = 85,
        packing: int | None = None,
        batch: int | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url:
            raise InputError(
                "The openai captioner needs a server URL: set VIDRAG_CAPTIONER_URL, e.g. "
                "http://localhost:8000/v1 for `vllm serve openbmb/MiniCPM-V-4_5`."
            )
        self.fps = 2.0 if fps is None else float(fps)
        if not 0 < self.fps <= 10 or max_frames < 1 or concurrency < 1 or retries < 0:
            raise InputError(
                f"Bad openai captioner options: fps={fps!r} (0-10], max_frames={max_frames!r}, "
                f"concurrency={concurrency!r} (>= 1), retries={retries!r} (>= 0)."
            )
        if packing not in (None, 1):
            logger.debug("packing=%s ignored: vLLM encodes each frame as its own image", packing)
        self.url = url.rstrip("/")
        self.model = model
        self.max_frames = max_frames
        self.max_side = max_side
        self.max_tokens = max_tokens
        self.concurrency = batch if batch and batch > 1 else concurrency
        self.retries = retries
        self.backoff = backoff
        self.jpeg_quality = jpeg_quality
        self._sleep = sleep
        self._client = client or self._make_client(api_key, timeout, connect_timeout)
        self._owns_client = client is None
        self._checked = False
        self._check_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "prompt_tokens": 0, "completion_tokens": 0}

    @staticmethod
    def _make_client(api_key: str | None, timeout: float, connect_timeout: float) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout), headers=headers)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request with retries; returns the response (any status not retried).

        Raises:
            BackendUnavailable: unreachable, timing out, or 429/5xx after every retry.
        """
        import httpx

        target = f"{self.url}{path}"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, target, json=body)
            except httpx.TimeoutException as err:
                problem = f"timed out ({type(err).__name__})"
            except httpx.TransportError as err:
                problem = f"could not connect ({type(err).__name__}: {err})"
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                problem = f"answered HTTP {response.status_code}: {response.text[:200]}"
            logger.warning("%s %s %s (attempt %d of %d)", method, target, problem, attempt + 1, self.retries + 1)
        raise BackendUnavailable(
            f"Caption server {self.url} {problem} after {self.retries + 1} attempts. Check that it is "
            "running and reachable (VIDRAG_CAPTIONER_URL), e.g. `vllm serve openbmb/MiniCPM-V-4_5 ...`."
        )

    def check_model(self) -> None:
        """Check once that the server serves `model` (skipped if it has no `/models`).

        Raises:
            BackendUnavailable: unreachable, or the model is not among those served.
        """
        with self._check_lock:
            if self._checked:
                return
            response = self._send("GET", "/models")
            if response.status_code in (401, 403):
                raise BackendUnavailable(
                    f"Caption server {self.url} refused the API key (HTTP {response.status_code}); "
                    "set VIDRAG_CAPTIONER_API_KEY."
                )
            if response.status_code == 200:
                served = [m.get("id") for m in response.json().get("data", [])]
                if self.model not in served:
                    raise BackendUnavailable(
                        f"Caption server {self.url} does not serve model {self.model!r}; it serves "
                        f"{served}. Set VIDRAG_CAPTIONER_MODEL to one of them, or start the server "
                        f"with `vllm serve {self.model} --trust-remote-code`."
                    )
            else:
                logger.warning("%s/models answered HTTP %s; model check skipped", self.url, response.status_code)
            self._checked = True

    def request_body(self, images: Sequence[Any], text: str, history: Sequence[tuple[str, str]] = ()) -> dict:
        """The chat request: the frames as one video part, then the text (after any history)."""
        video = {"type": "video_url", "video_url": {"url": video_data_url(images, self.jpeg_quality)}}
        turns = [*history, (text, "")]
        messages: list[dict[str, Any]] = [{"role": "user", "content": [video, {"type": "text", "text": turns[0][0]}]}]
        for (_, answer), (question, _) in zip(turns, turns[1:]):
            messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": question}]
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
            "chat_template_kwargs": {"enable_thinking": False},
        }

    def complete(self, body: dict[str, Any]) -> str:
        """POST a chat request and return the answer text.

        Raises:
            BackendUnavailable: unreachable, model not served, auth refused, or a malformed reply.
            InputError: the server rejected the request (e.g. too many frames for its limits).
        """
        self.check_model()
        response = self._send("POST", "/chat/completions", body)
        self.stats["requests"] += 1
        if response.status_code in (401, 403, 404):
            raise BackendUnavailable(
                f"Caption server {self.url} answered HTTP {response.status_code} for model "
                f"{self.model!r}: {response.text[:300]}. Check VIDRAG_CAPTIONER_MODEL / _API_KEY."
            )
        if response.status_code >= 400:
            raise InputError(
                f"Caption server {self.url} rejected the request (HTTP {response.status_code}): "
                f"{response.text[:300]}. Fewer frames (max_frames) or a larger --max-model-len may help."
            )
        try:
            reply = response.json()
            text = reply["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise BackendUnavailable(
                f"Caption server {self.url} sent a reply that is not a chat completion: {response.text[:200]!r}"
            ) from err
        usage = reply.get("usage") or {}
        self.stats["prompt_tokens"] += int(usage.get("prompt_tokens", 0))
        self.stats["completion_tokens"] += int(usage.get("completion_tokens", 0))
        return text

    def _caption_one(self, clip: ClipFrames) -> Caption:
        images, _ = pick_frames(clip, self.fps, self.max_frames, self.max_side)
        return to_caption(self.complete(self.request_body(images, caption_prompt())))

    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """One caption per clip, `concurrency` requests at a time, in order.

        Raises:
            InputError: a clip without frames, or the server rejected a request.
            BackendUnavailable: the server is unreachable or does not serve the model.
        """
        if not clips:
            return []
        self.check_model()
        if len(clips) == 1 or self.concurrency == 1:
            return [self._caption_one(clip) for clip in clips]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(clips))) as pool:
            return list(pool.map(self._caption_one, clips))

    def ask(self, clip: ClipFrames, question: str, *, history: Sequence[tuple[str, str]] = ()) -> str:
        """Answer a question about all the clip's given frames (up to `max_frames`).

        Raises:
            InputError: an empty question or a clip without frames.
            BackendUnavailable: the server is unreachable or does not serve the model.
        """
        if not question.strip():
            raise InputError("The question about the clip is empty; ask something about the frames.")
        images, _ = pick_frames(clip, 0, self.max_frames, self.max_side)
        if history:
            first = ask_prompt(history[0][0], clip.start, clip.end)
            body = self.request_body(images, question.strip(), [(first, history[0][1]), *history[1:]])
        else:
            body = self.request_body(images, ask_prompt(question, clip.start, clip.end))
        return strip_thinking(self.complete(body))

    def close(self) -> None:
        """Close the HTTP client if this captioner made it."""
        if self._owns_client:
            self._client.close()

    def describe(self) -> dict[str, Any]:
        """Configuration and request counters."""
        return super().describe() | {
            "url": self.url, "model": self.model, "max_frames": self.max_frames,
            "concurrency": self.concurrency, **self.stats,
        }  # fmt: skip


class VLLMOfflineCaptioner(Captioner):
    """MiniCPM-V-4.5 through `vllm.LLM` in process (GPU box, `pip install 'vidrag[vllm]'`).

    Raises:
        BackendUnavailable: (on first use) vllm is not installed.
    """

    name = "vllm"
    parallel_workers = 2

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        fps: float | None = 2.0,
        max_frames: int = 32,
        max_side: int = 448,
        max_tokens: int = 384,
        max_model_len: int = 16384,
        gpu_memory_utilization: float = 0.9,
        engine: Any = None,
    ) -> None:
        self.model = model
        self.fps = 2.0 if fps is None else float(fps)
        self.max_frames, self.max_side, self.max_tokens = max_frames, max_side, max_tokens
        self.engine_options = {
            "model": model, "trust_remote_code": True, "dtype": "bfloat16",
            "max_model_len": max_model_len, "gpu_memory_utilization": gpu_memory_utilization,
            "limit_mm_per_prompt": {"image": 4, "video": 1},
        }  # fmt: skip
        self._engine = engine

    @staticmethod
    def _vllm() -> Any:
        try:
            import vllm
        except ImportError as err:
            raise BackendUnavailable(
                "The vllm captioner needs vLLM >= 0.10.2 on a CUDA machine: `pip install "
                "'vidrag[vllm]'` (it brings its own torch); or run `vllm serve` and use "
                "VIDRAG_CAPTIONER=openai."
            ) from err
        return vllm

    def _generate(self, videos: list[Any], texts: list[str]) -> list[str]:
        import numpy as np

        vllm = self._vllm()
        if self._engine is None:
            self._engine = vllm.LLM(**self.engine_options)
        tokenizer = self._engine.get_tokenizer()
        requests = []
        for images, text in zip(videos, texts):
            messages = [{"role": "user", "content": f"{VLLM_VIDEO_PLACEHOLDER}\n{text}"}]
            prompt = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
            )
            frames = np.stack([np.asarray(image, dtype=np.uint8) for image in images])
            requests.append({"prompt": prompt, "multi_modal_data": {"video": frames}})
        params = vllm.SamplingParams(temperature=0.0, max_tokens=self.max_tokens)
        return [out.outputs[0].text for out in self._engine.generate(requests, params)]

    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """One caption per clip, all clips in one engine call (vLLM batches them).

        Raises:
            InputError: a clip without frames. BackendUnavailable: vllm is not installed.
        """
        videos = [pick_frames(clip, self.fps, self.max_frames, self.max_side)[0] for clip in clips]
        return [to_caption(raw) for raw in self._generate(videos, [caption_prompt()] * len(clips))]

    def ask(self, clip: ClipFrames, question: str) -> str:
        """Answer a question about the clip's given frames."""
        images, _ = pick_frames(clip, 0, self.max_frames, self.max_side)
        return strip_thinking(self._generate([images], [ask_prompt(question, clip.start, clip.end)])[0])

    def close(self) -> None:
        """Drop the engine."""
        self._engine = None
