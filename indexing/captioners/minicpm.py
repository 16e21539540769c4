"""MiniCPM-V-4.5 in process (transformers + the model's remote code), with 3D-resampler packing.

Each clip's frames are taken at bin centres at `fps`, shrunk to ~448² and grouped `packing` at a
time through `temporal_ids` (0.1 s units from the clip start), so up to 6 frames cost 64 tokens.
The model is loaded once, on first use, in bf16 on CUDA, and freed by `close()`.

Several clips per `chat` call (`batch` > 1) are correct here although the remote code's batched
`chat` is not: with packing it splits the resampler output by FRAME count per conversation while
the resampler returns one row per GROUP, so every clip but the first gets another clip's (or no)
vision features. While a batched call runs, `packed_batch_fix` makes the resampler return its rows
spread out to the frame-count layout the remote code expects (each conversation's groups first,
zero rows after, which its scatter never reads) and checks the split it then sees.

The remote code runs on transformers 4.x (checked on 4.57.6); 5.x cannot import it and would also
leave the resampler's position caches wrong, so 5.x is refused. It imports torchvision, which must
be installed beside torch.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from indexing import sampling
from indexing.caption_prompt import ask_prompt, caption_prompt, strip_thinking, to_caption
from indexing.captioners.base import Caption, Captioner, ClipFrames
from indexing.model_registry import download_hint, local_snapshot
from storage.errors import BackendUnavailable, InputError, ModelMissing

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "openbmb/MiniCPM-V-4_5"
TESTED_TRANSFORMERS = "4.57.6"
ATTENTION = ("sdpa", "flash_attention_2")
MAX_FPS = 10.0

Loaded = tuple[Any, Any, Any]
"""(model, tokenizer, processor) as returned by a loader."""


@dataclass
class PreparedClip:
    """A clip ready for `model.chat`: shrunk PIL frames, their times and `temporal_ids` groups."""

    frames: list[Any]
    times: list[float]
    groups: list[list[int]]
    start: float
    end: float


def check_transformers(version: str) -> None:
    """Refuse transformers versions the MiniCPM-V-4.5 remote code does not run on.

    Raises:
        BackendUnavailable: version 5 or later, or older than 4.51.
    """
    parts = [int(p) if p.isdigit() else 0 for p in version.split("+")[0].split(".")[:2]]
    major, minor = (parts + [0, 0])[:2]
    if major >= 5 or (major, minor) < (4, 51):
        raise BackendUnavailable(
            f"MiniCPM-V-4.5's remote code does not run on transformers {version}: 5.x removed "
            "`_prepare_4d_attention_mask` it imports and does not rebuild its resampler position "
            f"caches (silently wrong output). Install transformers=={TESTED_TRANSFORMERS} (vidrag's "
            "pinned set), or use VIDRAG_CAPTIONER=openai with a vLLM server."
        )
    if (major, minor) != (4, 57):
        logger.warning("transformers %s: MiniCPM-V-4.5 was checked on %s", version, TESTED_TRANSFORMERS)


def check_torchvision() -> None:
    """The remote code imports torchvision; transformers refuses to load it otherwise.

    Raises:
        BackendUnavailable: torchvision is not importable.
    """
    if importlib.util.find_spec("torchvision") is None:
        raise BackendUnavailable(
            "MiniCPM-V-4.5's remote code imports torchvision, which is not installed. Install the "
            "torchvision release built for your torch (e.g. `pip install torchvision` from the same "
            "index as torch; CPU-only torch wheels from local disk have none), or use "
            "VIDRAG_CAPTIONER=openai with a vLLM server."
        )


def _import_stack() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as err:
        raise BackendUnavailable(
            f"The minicpm captioner needs torch and transformers ({err}); "
            f"`pip install torch transformers=={TESTED_TRANSFORMERS} accelerate`."
        ) from err
    return torch, transformers


def resolve_device(torch: Any, device: str | None, allow_cpu: bool) -> str:
    """'cuda' when available (or the named device); CPU only when explicitly allowed.

    Raises:
        BackendUnavailable: no CUDA device and CPU not allowed, or CUDA asked for but absent.
    """
    wanted = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"Device {wanted!r} asked for, but torch sees no CUDA GPU.")
    if wanted == "cpu" and not allow_cpu:
        raise BackendUnavailable(
            "No CUDA GPU: MiniCPM-V-4.5 needs ~18 GB of GPU memory in bf16 (~9 GB int4). Pass "
            "allow_cpu=True to run it in float32 on CPU (~35 GB RAM, minutes per clip), or use "
            "VIDRAG_CAPTIONER=openai with a vLLM server on a GPU machine."
        )
    return wanted


def load_minicpm(
    model_id: str = DEFAULT_MODEL,
    *,
    device: str | None = None,
    allow_cpu: bool = False,
    attn_implementation: str = "sdpa",
    cache_dir: str | None = None,
    revision: str | None = None,
) -> Loaded:
    """Load model, tokenizer and processor from local files only (bf16 on CUDA, fp32 on CPU).

    Raises:
        ModelMissing: the weights are not on this machine.
        BackendUnavailable: wrong transformers, no torchvision, no usable device, no flash-attn.
    """
    folder = local_snapshot(model_id, cache_dir=cache_dir, revision=revision)
    if folder is None:
        raise ModelMissing(
            f"MiniCPM-V weights {model_id!r} are not on this machine (no complete local folder or "
            f"Hugging Face cache snapshot). Fetch them with `{download_hint(model_id)}`, or set "
            "VIDRAG_CAPTIONER_MODEL to a folder holding them."
        )
    torch, transformers = _import_stack()
    check_transformers(transformers.__version__)
    check_torchvision()
    if attn_implementation == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise BackendUnavailable(
            "attn_implementation='flash_attention_2' needs flash-attn (`pip install flash-attn "
            "--no-build-isolation`); or use 'sdpa'."
        )
    where = resolve_device(torch, device, allow_cpu)
    dtype = torch.bfloat16 if where.startswith("cuda") else torch.float32
    version = tuple(int(p) for p in transformers.__version__.split(".")[:2] if p.isdigit())
    dtype_key = "dtype" if version >= (4, 56) else "torch_dtype"
    logger.info("loading %s from %s on %s (%s, %s)", model_id, folder, where, dtype, attn_implementation)
    model = transformers.AutoModel.from_pretrained(
        str(folder),
        trust_remote_code=True,
        attn_implementation=attn_implementation,
        device_map={"": where},
        **{dtype_key: dtype},
    ).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), trust_remote_code=True)
    processor = transformers.AutoProcessor.from_pretrained(str(folder), trust_remote_code=True)
    return model, tokenizer, processor


def spread_group_rows(features: Any, layout: Sequence[tuple[int, int]]) -> Any:
    """Lay resampler rows (one per group, all conversations) out by frame count per conversation.

    Conversation i's `groups_i` rows land at the start of its `frames_i`-row slot; the rest of the
    slot is zeros. Splitting the result by frame counts, as the remote code does, then gives each
    conversation its own groups first.

    Args:
        features: tensor (sum of groups, queries, dim).
        layout: (frames_i, groups_i) per conversation, in batch order.

    Raises:
        BackendUnavailable: the row count is not the sum of groups (the remote code changed).
    """
    total_groups = sum(groups for _, groups in layout)
    if features.shape[0] != total_groups or any(g > f for f, g in layout):
        raise BackendUnavailable(
            f"MiniCPM-V resampler returned {features.shape[0]} rows for groups {layout!r}; the remote "
            "code differs from the one vidrag supports. Use batch=1 (VIDRAG_CAPTIONER_BATCH=1)."
        )
    out = features.new_zeros((sum(frames for frames, _ in layout), *features.shape[1:]))
    src = dst = 0
    for frames, groups in layout:
        out[dst : dst + groups] = features[src : src + groups]
        src += groups
        dst += frames
    return out


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    sentinel = object()
    before = vars(obj).get(name, sentinel)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if before is sentinel:
            delattr(obj, name)
        else:
            setattr(obj, name, before)


@contextlib.contextmanager
def packed_batch_fix(model: Any, layout: Sequence[tuple[int, int]]) -> Iterator[None]:
    """While active, batched `chat` gives each packed conversation its own vision features.

    Raises:
        BackendUnavailable: (inside the block) the remote code split rows another way than expected.
    """
    layout = [tuple(item) for item in layout]
    if all(frames == groups for frames, groups in layout):
        yield  # one row per frame already: the remote code's split is right
        return
    resampler = model.resampler
    original_forward = resampler.forward
    original_embedding = model.get_vllm_embedding

    def forward(*args: Any, **kwargs: Any) -> Any:
        return spread_group_rows(original_forward(*args, **kwargs), layout)

    def embedding(data: Any, *args: Any, **kwargs: Any) -> Any:
        embeds, hidden = original_embedding(data, *args, **kwargs)
        seen = [len(h) for h in hidden]
        if seen != [frames for frames, _ in layout]:
            raise BackendUnavailable(
                f"MiniCPM-V remote code split vision rows as {seen}, expected frame counts "
                f"{[f for f, _ in layout]}; its batching changed. Use batch=1."
            )
        return embeds, hidden

    with _patched(resampler, "forward", forward), _patched(model, "get_vllm_embedding", embedding):
        yield


class MiniCPMCaptioner(Captioner):
    """Captions clips with MiniCPM-V-4.5 in process and answers questions about them.

    Args:
        model: hub id or local folder (int4 / AWQ variants work the same way).
        fps: frames per second of video sampled per clip (default 3, at most 10).
        packing: frames per 3D-resampler group, 1-6 (64 tokens per group).
        batch: clips per `chat` call.
        max_frames: cap on frames per clip (bin centres spread over the whole clip).
        max_side: longest frame side sent to the processor.
        max_new_tokens: generation limit per answer.
        attn_implementation: 'sdpa' or 'flash_attention_2'.
        device: torch device; default CUDA. allow_cpu: permit float32 on CPU.
        loader: callable returning (model, tokenizer, processor); default loads local weights.

    Raises:
        InputError: a bad fps, packing, batch, max_frames or attention choice.
    """

    name = "minicpm"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        fps: float | None = 3.0,
        packing: int = 3,
        batch: int = 1,
        max_frames: int = 64,
        max_side: int = 448,
        max_new_tokens: int = 384,
        attn_implementation: str = "sdpa",
        device: str | None = None,
        allow_cpu: bool = False,
        cache_dir: str | None = None,
        revision: str | None = None,
        loader: Callable[[], Loaded] | None = None,
    ) -> None:
        fps = 3.0 if fps is None else float(fps)
        if not 0 < fps <= MAX_FPS:
            raise InputError(f"MiniCPM captioner fps must be in (0, {MAX_FPS}], got {fps!r}.")
        if batch < 1 or max_frames < 1 or max_new_tokens < 1:
            raise InputError(
                f"batch, max_frames and max_new_tokens must be >= 1, got {batch}, {max_frames}, "
                f"{max_new_tokens}."
            )
        if attn_implementation not in ATTENTION:
            raise InputError(f"attn_implementation must be one of {ATTENTION}, got {attn_implementation!r}.")
        self.model_id = model
        self.fps = fps
        self.packing = sampling.check_packing(packing)
        self.batch = batch
        self.max_frames = max_frames
        self.max_side = max_side
        self.max_new_tokens = max_new_tokens
        self.attn_implementation = attn_implementation
        self._loader = loader or (
            lambda: load_minicpm(
                model, device=device, allow_cpu=allow_cpu, attn_implementation=attn_implementation,
                cache_dir=cache_dir, revision=revision,
            )
        )  # fmt: skip
        self._loaded: Loaded | None = None
        self._lock = threading.RLock()

    def _ensure_loaded(self) -> Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._loader()
            return self._loaded

    def prepare(self, clip: ClipFrames, *, fps: float | None = None) -> PreparedClip:
        """Pick the clip's frames at bin centres, shrink them, and group their temporal ids.

        With `fps=0` every decoded frame is used (still capped at `max_frames`, evenly spread).

        Raises:
            InputError: no frames, frames and times of different lengths, or a bad span.
        """
        if not clip.frames or len(clip.frames) != len(clip.times):
            raise InputError(
                f"Clip {clip.video_id}@{clip.start:.2f}-{clip.end:.2f}s has {len(clip.frames)} frames "
                f"and {len(clip.times)} times; need at least one frame with one time each."
            )
        rate = self.fps if fps is None else fps
        if rate:
            chosen = sampling.select_frames(clip.times, clip.start, clip.end, rate, self.max_frames)
        else:
            chosen = sampling.evenly_spaced(len(clip.frames), self.max_frames)
        times = [float(clip.times[i]) for i in chosen]
        frames = [sampling.fit_frame(clip.frames[i], self.max_side) for i in chosen]
        groups = sampling.temporal_ids(times, self.packing, origin=min(clip.start, times[0]))
        return PreparedClip(frames, times, groups, clip.start, clip.end)

    def chat_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of every `model.chat` call: greedy, no thinking, one slice per frame."""
        return {
            "use_image_id": False,
            "max_slice_nums": 1,
            "enable_thinking": False,
            "sampling": True,  # sampling=False would mean 3-beam search; do_sample=False is greedy
            "do_sample": False,
            "max_new_tokens": self.max_new_tokens,
        }

    def _chat(
        self, msgs: list[Any], temporal_ids: list[Any], layout: list[tuple[int, int]] | None = None
    ) -> Any:
        """One `model.chat` call; `layout` (frames, groups) per conversation marks a batched call."""
        model, tokenizer, processor = self._ensure_loaded()
        with self._lock:
            fix = packed_batch_fix(model, layout) if layout else contextlib.nullcontext()
            with fix:
                return model.chat(
                    msgs=msgs, tokenizer=tokenizer, processor=processor,
                    temporal_ids=temporal_ids, **self.chat_kwargs(),
                )  # fmt: skip

    @staticmethod
    def _conversation(
        prepared: PreparedClip, prompt: str, history: Sequence[tuple[str, str]] = ()
    ) -> list[dict[str, Any]]:
        """User turn with the frames and the first question, then earlier answers and questions."""
        turns = [*history, (prompt, "")]
        msgs: list[dict[str, Any]] = [{"role": "user", "content": [*prepared.frames, turns[0][0]]}]
        for (_, answer), (question, _) in zip(turns, turns[1:]):
            msgs += [{"role": "assistant", "content": answer}, {"role": "user", "content": question}]
        return msgs

    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """One caption per clip, `batch` clips per `chat` call.

        Raises:
            InputError: a clip without frames.
            ModelMissing, BackendUnavailable: the model cannot be loaded.
        """
        prepared = [self.prepare(clip) for clip in clips]
        prompt = caption_prompt()
        raws: list[str] = []
        for first in range(0, len(prepared), self.batch):
            chunk = prepared[first : first + self.batch]
            if len(chunk) == 1:
                raws.append(self._chat(self._conversation(chunk[0], prompt), chunk[0].groups))
                continue
            layout = [(len(p.frames), len(p.groups)) for p in chunk]
            msgs = [self._conversation(p, prompt) for p in chunk]
            answers = self._chat(msgs, [p.groups for p in chunk], layout)
            raws.extend(answers)
            logger.debug("captioned %d clips in one call (layout %s)", len(chunk), layout)
        return [to_caption(raw) for raw in raws]

    def ask(
        self, clip: ClipFrames, question: str, *, history: Sequence[tuple[str, str]] = ()
    ) -> str:
        """Answer a question about the clip's frames (all given frames, up to `max_frames`).

        The caller decodes the clip at the rate it wants (e.g. higher than captioning).
        `history` holds earlier (question, answer) turns about the same frames; the first
        question then carries the frames and the same `temporal_ids` are passed again.

        Raises:
            InputError: an empty question or a clip without frames.
        """
        if not question.strip():
            raise InputError("The question about the clip is empty; ask something about the frames.")
        prepared = self.prepare(clip, fps=0)
        if history:
            first = ask_prompt(history[0][0], clip.start, clip.end)
            turns = [(first, history[0][1]), *history[1:]]
            msgs = self._conversation(prepared, question.strip(), turns)
        else:
            msgs = self._conversation(prepared, ask_prompt(question, clip.start, clip.end))
        return strip_thinking(self._chat(msgs, prepared.groups))

    def close(self) -> None:
        """Drop the model and free GPU memory."""
        with self._lock:
            if self._loaded is None:
                return
            self._loaded = None
        gc.collect()
        if importlib.util.find_spec("torch") is not None:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def describe(self) -> dict[str, Any]:
        """Configuration for `/ready` and run metadata."""
        return super().describe() | {
            "model": self.model_id,
            "packing": self.packing,
            "batch": self.batch,
            "max_frames": self.max_frames,
            "attn_implementation": self.attn_implementation,
            "loaded": self._loaded is not None,
        }
