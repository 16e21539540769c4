"""MiniCPM-V-4.5 in process (transformers + the model's remote code), with 3D-resampler packing.

Each clip's frames are taken at bin centres at `fps`, shrunk to ~448² and grouped `packing` at a
time through `temporal_ids` (0.1 s units from the clip start), so up to 6 frames cost 64 tokens.
The model is loaded once, on first use, in bf16 on the configured device (default CUDA; CPU runs in
float32 with a warning: meant for checks with small models), and freed by `close()`.

Captions go through `minicpm_engine` in stages: clips are encoded (chat template + the remote
processor) by worker threads while the GPU runs the previous batch; the vision pass runs in chunks
with SDPA attention in SigLIP; decoding is greedy over a static KV cache, replayed from a CUDA
graph on a GPU. It gives the same tokens as `model.chat` (checked against the real remote code).
Questions about a clip (`ask`, with history) go through `model.chat` itself.

Several clips per call are correct here although the remote code's batched `chat` is not: with
packing it splits the resampler output by FRAME count per conversation while the resampler returns
one row per GROUP, so every clip but the first gets another clip's (or no) vision features. While a
batched call runs, `packed_batch_fix` makes the resampler return its rows spread out to the
frame-count layout the remote code expects (each conversation's groups first, zero rows after,
which its scatter never reads) and checks the split it then sees.

The remote code runs on transformers 4.x (checked on 4.57.6); 5.x cannot import it and would also
leave the resampler's position caches wrong, so 5.x is refused. It imports torchvision without using
it: `pip install 'vidrag[minicpm]'` brings it; on a CPU-only machine without torchvision an empty
stand-in module is used instead (with a warning), since PyPI's torchvision for CPU torch does not
import there.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vidrag.indexing import sampling
from vidrag.indexing.caption_prompt import ask_prompt, caption_prompt, strip_thinking, to_caption
from vidrag.indexing.captioners import minicpm_engine as engine
from vidrag.indexing.captioners.base import Caption, Captioner, ClipFrames
from vidrag.indexing.captioners.minicpm_engine import packed_batch_fix, spread_group_rows
from vidrag.indexing.model_registry import download_hint, local_snapshot
from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "openbmb/MiniCPM-V-4_5"
TESTED_TRANSFORMERS = "4.57.6"
ATTENTION = ("sdpa", "flash_attention_2")
MAX_FPS = 10.0
DEFAULT_NEW_TOKENS = 192
PROMPT_TOKENS = 320  # chat template + caption prompt, measured: 852 tokens = 10 groups x 66 + 192

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


INSTALL_HINT = "pip install 'vidrag[minicpm]'"


def check_torchvision(device: str) -> None:
    """The remote code imports torchvision (never uses it); transformers refuses to load it otherwise.

    A torchvision that is installed must import. When none is installed and the device is the CPU,
    an empty stand-in module is registered (with a warning): PyPI's torchvision for a CPU torch is a
    CUDA build that fails to import beside it. On a GPU the real one is required.

    Raises:
        BackendUnavailable: torchvision installed but broken, or missing on a GPU device.
    """
    import sys

    current = sys.modules.get("torchvision")
    if current is not None:
        return
    if importlib.util.find_spec("torchvision") is not None:
        try:
            import torchvision  # noqa: F401
        except Exception as err:  # a build for another torch raises RuntimeError, not ImportError
            raise BackendUnavailable(
                f"torchvision is installed but does not import beside this torch ({err}). Install the "
                f"torchvision built for your torch (`{INSTALL_HINT}` from the index your torch came from; "
                "CPU torch: --index-url https://download.pytorch.org/whl/cpu), or, on a CPU-only "
                "machine, uninstall it: the minicpm captioner then uses an empty stand-in."
            ) from err
        return
    if not device.startswith("cpu"):
        raise BackendUnavailable(
            "MiniCPM-V-4.5's remote code imports torchvision, which is not installed. Install the "
            f"minicpm extra (`{INSTALL_HINT}`; torchvision must match your torch build), or use "
            "VIDRAG_CAPTIONER=openai with a vLLM server."
        )
    install_torchvision_stand_in()


def install_torchvision_stand_in() -> None:
    """Register an empty `torchvision` module for the remote code's unused `import torchvision`.

    transformers' own availability flag is computed first (False), so transformers never tries to
    use the stand-in; only the remote code's bare import sees it.
    """
    import importlib.machinery
    import sys
    import types

    from transformers.utils import import_utils

    import_utils.is_torchvision_available()
    module = types.ModuleType(
        "torchvision", "Empty stand-in: MiniCPM-V's remote code imports torchvision, never uses it."
    )
    module.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    module.__dict__["__version__"] = "0.0.0+vidrag-stand-in"
    sys.modules["torchvision"] = module
    logger.warning(
        "torchvision is not installed: MiniCPM-V's remote code is loaded with an empty stand-in "
        "module (it imports torchvision but never calls it). Install `%s` for the real one.",
        INSTALL_HINT,
    )


def _import_stack() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as err:
        raise BackendUnavailable(
            f"The minicpm captioner needs torch, transformers=={TESTED_TRANSFORMERS}, torchvision and "
            f"accelerate ({err}); install the extra: `{INSTALL_HINT}`."
        ) from err
    if importlib.util.find_spec("accelerate") is None:
        raise BackendUnavailable(f"The minicpm captioner needs accelerate to place the model; `{INSTALL_HINT}`.")
    return torch, transformers


def resolve_device(torch: Any, device: str = "cuda") -> str:
    """The device to run on: CUDA unless `device` says otherwise; CPU works but warns about speed.

    Raises:
        BackendUnavailable: a CUDA device is asked for but torch sees none.
    """
    wanted = (device or "cuda").strip().lower()
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"VIDRAG_CAPTIONER_DEVICE={wanted!r} but torch {getattr(torch, '__version__', '?')} sees no "
            "CUDA GPU. MiniCPM-V-4.5 needs ~18 GB of GPU memory in bf16 (~9 GB int4). Install a CUDA "
            "build of torch on a GPU machine, use VIDRAG_CAPTIONER=openai with a vLLM server, or set "
            "VIDRAG_CAPTIONER_DEVICE=cpu (float32; for checks with small models, minutes per clip at full size)."
        )
    if wanted == "cpu":
        logger.warning(
            "MiniCPM-V captioner on the CPU in float32: fine for a tiny test model, but the full 8.7 B "
            "model needs ~35 GB of RAM and minutes per clip. Use a GPU (VIDRAG_CAPTIONER_DEVICE=cuda)."
        )
    return wanted


def preflight(model_id: str, *, device: str = "cuda", attn_implementation: str = "sdpa",
              cache_dir: str | None = None, revision: str | None = None) -> tuple[Any, str]:  # fmt: skip
    """Every check `load_minicpm` makes before reading weights; returns (weights folder, device).

    Raises:
        ModelMissing: the weights are not on this machine.
        BackendUnavailable: missing packages, wrong transformers, no torchvision, no usable device.
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
    where = resolve_device(torch, device)
    check_torchvision(where)
    if attn_implementation == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise BackendUnavailable(
            "attn_implementation='flash_attention_2' needs flash-attn (`pip install flash-attn "
            "--no-build-isolation`); or use 'sdpa'."
        )
    return folder, where


def load_minicpm(
    model_id: str = DEFAULT_MODEL,
    *,
    device: str = "cuda",
    attn_implementation: str = "sdpa",
    cache_dir: str | None = None,
    revision: str | None = None,
) -> Loaded:
    """Load model, tokenizer and processor from local files only (bf16 on CUDA, fp32 on CPU).

    Raises:
        ModelMissing: the weights are not on this machine.
        BackendUnavailable: wrong transformers, no torchvision, no usable device, no flash-attn.
    """
    folder, where = preflight(
        model_id, device=device, attn_implementation=attn_implementation, cache_dir=cache_dir, revision=revision
    )
    import torch
    import transformers

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


# where torch.compile's own errors come from (a missing C++ compiler or Triton, an unsupported op)
_COMPILERS = ("torch._dynamo", "torch._inductor")
VISION_ATTENTION = ("auto", "sdpa", "eager", "compiled")


class _CompileFailed(Exception):
    """'auto' vision attention met a torch.compile failure: the call is made again with plain SDPA."""


class MiniCPMCaptioner(Captioner):
    """Captions clips with MiniCPM-V-4.5 in process and answers questions about them.

    Args:
        model: hub id or local folder (int4 / AWQ variants work the same way).
        fps: frames per second of video sampled per clip (default 3, at most 10).
        packing: frames per 3D-resampler group, 1-6 (64 tokens per group).
        batch: clips per model call; 0 = sized from free GPU memory after loading (at most 64; 8 on CPU).
        max_frames: cap on frames per clip (bin centres spread over the whole clip).
        max_side: longest frame side sent to the processor.
        max_new_tokens: caption length limit (192 fits the six-line caption; real weights stop earlier).
        attn_implementation: 'sdpa' or 'flash_attention_2' for the LLM.
        vision_attention: 'sdpa' (fused, same function) or 'eager' (what the remote code forces) for SigLIP;
            'compiled': SDPA with each SigLIP layer through `torch.compile` (SigLIP 190 -> 160 ms for 64
            frames on an H200, the caption stage ~54 -> ~59 video-s/s, after a ~10 s compile; a compile
            failure is an error); 'auto' (default): 'compiled' on a GPU, falling back to 'sdpa' with a
            warning when torch.compile cannot build the layers (no C compiler, no Triton), 'sdpa' on a CPU.
        cache: 'static' (preallocated KV cache; CUDA-graph decode steps on a GPU) or 'dynamic'
            (transformers' `generate`, as `chat` runs it).
        workers: CPU threads that prepare the next batch while the GPU runs this one.
        chunk_frames: frames per vision pass (bounds its memory); vision_batch: frames per SigLIP call.
        overlap_vision: on a GPU, run the next call's vision pass on a second CUDA stream while this
            call decodes (same captions; see `caption`). Off until timed on a GPU (docs/backends.md).
        device: 'cuda' (default), 'cuda:N' or 'cpu' (float32, slow; for small test models).
        loader: callable returning (model, tokenizer, processor); default loads local weights.

    Raises:
        InputError: a bad fps, packing, batch, max_frames or attention or cache choice.
    """

    name = "minicpm"
    uses_gpu = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        fps: float | None = 3.0,
        packing: int = 3,
        batch: int = 0,
        max_frames: int = 64,
        max_side: int = 448,
        max_new_tokens: int = DEFAULT_NEW_TOKENS,
        attn_implementation: str = "sdpa",
        vision_attention: str = "auto",
        cache: str = "static",
        workers: int = 0,
        chunk_frames: int = 256,
        vision_batch: int = 64,
        overlap_vision: bool = False,
        device: str = "cuda",
        cache_dir: str | None = None,
        revision: str | None = None,
        loader: Callable[[], Loaded] | None = None,
    ) -> None:
        fps = 3.0 if fps is None else float(fps)
        if not 0 < fps <= MAX_FPS:
            raise InputError(f"MiniCPM captioner fps must be in (0, {MAX_FPS}], got {fps!r}.")
        if batch < 0 or max_frames < 1 or max_new_tokens < 1:
            raise InputError(
                f"batch must be >= 0 (0 = auto), max_frames and max_new_tokens >= 1, got {batch}, "
                f"{max_frames}, {max_new_tokens}."
            )
        if attn_implementation not in ATTENTION:
            raise InputError(f"attn_implementation must be one of {ATTENTION}, got {attn_implementation!r}.")
        if vision_attention not in VISION_ATTENTION or cache not in ("static", "dynamic"):
            raise InputError(
                f"vision_attention must be one of {VISION_ATTENTION} and cache 'static' or 'dynamic', got "
                f"{vision_attention!r} and {cache!r}."
            )
        self.model_id = model
        self.fps = fps
        self.packing = sampling.check_packing(packing)
        self.batch = batch
        self.max_frames = max_frames
        self.max_side = max_side
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = 0
        self.attn_implementation = attn_implementation
        self.vision_attention = vision_attention
        self._compile_failed = False
        self.cache = cache
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.chunk_frames = chunk_frames
        self.vision_batch = vision_batch
        self.overlap_vision = overlap_vision
        self.device = device
        self._options: dict[str, Any] = {
            "device": device,
            "attn_implementation": attn_implementation,
            "cache_dir": cache_dir,
            "revision": revision,
        }
        self._custom_loader = loader
        self._loader = loader or (lambda: load_minicpm(model, **self._options))
        self._loaded: Loaded | None = None
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self.stats = engine.Stats()
        self._text_lock = threading.Lock()

    def check(self) -> None:
        """Fail now, before any file is touched, if the model could not be loaded (weights, packages, device).

        Raises:
            ModelMissing, BackendUnavailable: what `load_minicpm` would raise before reading weights.
        """
        if self._loaded is None and self._custom_loader is None:
            preflight(self.model_id, **self._options)

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
        kwargs = {
            "use_image_id": False,
            "max_slice_nums": 1,
            "enable_thinking": False,
            "sampling": True,  # sampling=False would mean 3-beam search; do_sample=False is greedy
            "do_sample": False,
            "max_new_tokens": self.max_new_tokens,
        }
        return kwargs | ({"min_new_tokens": self.min_new_tokens} if self.min_new_tokens else {})

    def _chat(self, msgs: list[Any], temporal_ids: list[Any], layout: list[tuple[int, int]] | None = None) -> Any:
        """One `model.chat` call; `layout` (frames, groups) per conversation marks a batched call."""
        model, tokenizer, processor = self._ensure_loaded()
        with self._lock:
            fix = packed_batch_fix(model, layout) if layout else contextlib.nullcontext()
            with fix, engine.sdpa_vision(model, self.vision_attention != "eager"):
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

    def clips_per_chunk(self, requested: int = 0) -> int:
        """Several calls' worth of clips at once, so the workers encode the next call's clips while the
        GPU runs this one: 4 calls of `requested`, or 192 clips when the call size is automatic."""
        return 4 * requested if requested else 192

    def clips_per_call(self, clips: Sequence[ClipFrames]) -> int:
        """`batch`, or with batch=0 as many clips as free GPU memory holds (16-64 on an H200)."""
        if self.batch:
            return self.batch
        model = self._ensure_loaded()[0]
        import torch

        if not model.llm.device.type == "cuda":
            return 8
        frames = max(min(self.max_frames, max(1, math.ceil((c.end - c.start) * self.fps))) for c in clips)
        tokens = math.ceil(frames / self.packing) * (model.config.query_num + 3) + PROMPT_TOKENS + self.max_new_tokens
        free, _ = torch.cuda.mem_get_info(model.llm.device)
        return engine.clips_per_call(free, tokens, model.llm.config)

    def _encode(self, loaded: Loaded, clip: ClipFrames, prompt: str) -> engine.Encoded:
        model, _, processor = loaded
        prepared = self.prepare(clip)
        return engine.encode(processor, self._conversation(prepared, prompt), prepared.groups, model.dtype,
                             text_lock=self._text_lock)  # fmt: skip

    def _vision_choice(self, model: Any) -> str:
        """'sdpa', 'eager' or 'compiled': `vision_attention`, with 'auto' decided for this model."""
        if self.vision_attention != "auto":
            return self.vision_attention
        on_gpu = model.llm.device.type == "cuda"
        return "compiled" if on_gpu and not self._compile_failed else "sdpa"

    def _vision_modules(self, model: Any) -> contextlib.AbstractContextManager[None]:
        """The vision tower as `vision_attention` asks: SDPA (and compiled layers) or the remote code's eager."""
        choice = self._vision_choice(model)
        return engine.sdpa_vision(model, choice != "eager", compiled=choice == "compiled")

    def _vision(self, model: Any, encoded: Sequence[engine.Encoded], stream: Any = None) -> tuple[engine.Batch, Any]:
        """One call's batch and its input embeddings (the vision pass), on `stream` when given; the
        embeddings are complete when this returns. The overlapped loop runs it in its vision thread
        while holding the lock, so it takes the model rather than loading it."""
        batch = engine.merge(list(encoded))
        started = time.perf_counter()
        on_stream: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if stream is not None:
            import torch

            on_stream = torch.cuda.stream(stream)
        with on_stream:
            try:
                embeds = engine.embed(model, batch, self.chunk_frames, self.vision_batch)
            except Exception as err:
                if self._vision_choice(model) == "compiled" and type(err).__module__.startswith(_COMPILERS):
                    said = " ".join(str(err).split())[:300]
                    if self.vision_attention == "auto":
                        logger.warning(
                            "torch.compile could not build SigLIP's layers (%s: %s); captioning with plain SDPA "
                            "(the same captions, SigLIP ~16 %% slower). VIDRAG_CAPTIONER_VISION=sdpa skips "
                            "the attempt.", type(err).__name__, said,
                        )  # fmt: skip
                        self._compile_failed = True
                        raise _CompileFailed from err
                    raise BackendUnavailable(
                        f"torch.compile could not build SigLIP's layers for VIDRAG_CAPTIONER_VISION=compiled "
                        f"({type(err).__name__}: {said}); set VIDRAG_CAPTIONER_VISION=sdpa (the same "
                        "captions, without compiling)."
                    ) from err
                raise
            if embeds.is_cuda:
                import torch

                torch.cuda.current_stream(embeds.device).synchronize()
        self.stats.embed_s += time.perf_counter() - started
        return batch, embeds

    def _decode(self, loaded: Loaded, batch: engine.Batch, embeds: Any) -> list[str]:
        """The captions of one call from its input embeddings (prefill and decoding)."""
        model, tokenizer, _ = loaded
        if embeds.is_cuda:
            import torch

            embeds.record_stream(torch.cuda.current_stream(embeds.device))  # made on the vision stream
        run = engine.generate_static if self.cache == "static" else engine.generate_dynamic
        tokens = run(
            model, tokenizer, embeds, batch.attention_mask, max_new_tokens=self.max_new_tokens,
            min_new_tokens=self.min_new_tokens, stats=self.stats,
        )  # fmt: skip
        self.stats.clips += len(batch.layout)
        self.stats.prompt_tokens += int(batch.attention_mask.sum())
        return list(model._decode_text(tokens, tokenizer))

    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """`_caption`, again without compiled layers when 'auto' found that torch.compile cannot build them."""
        try:
            return self._caption(clips)
        except _CompileFailed:
            return self._caption(clips)

    def _caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """One caption per clip, `clips_per_call` clips per model call, the next call's clips encoded
        by the CPU workers meanwhile.

        On a GPU with `overlap_vision`, the next call's vision pass runs in a second thread on a
        second CUDA stream while this call prefills and decodes (SigLIP is bound by the matrix rate,
        decoding by memory bandwidth), and the workers encode two calls ahead; the lock is held for
        the whole loop, since the vision tower is busy throughout (docs/backends.md).

        Raises:
            InputError: a clip without frames.
            ModelMissing, BackendUnavailable: the model cannot be loaded.
        """
        if not clips:
            return []
        for clip in clips:
            if not clip.frames or len(clip.frames) != len(clip.times):
                self.prepare(clip)  # raises the InputError naming the clip
        loaded = self._ensure_loaded()
        model = loaded[0]
        per_call = self.clips_per_call(clips)
        chunks = [clips[i : i + per_call] for i in range(0, len(clips), per_call)]
        prompt = caption_prompt()
        pool = self._workers()

        def encode(index: int) -> list[Future[engine.Encoded]]:
            ahead = chunks[index] if index < len(chunks) else []
            return [pool.submit(self._encode, loaded, clip, prompt) for clip in ahead]

        raws: list[str] = []
        if not (self.overlap_vision and len(chunks) > 1 and model.llm.device.type == "cuda"):
            pending = encode(0)
            for index in range(len(chunks)):
                encoded = [future.result() for future in pending]
                pending = encode(index + 1)
                with self._lock, self._vision_modules(model):
                    raws.extend(self._decode(loaded, *self._vision(model, encoded)))
                logger.debug("captioned %d clips in one call", len(encoded))
            return [to_caption(raw) for raw in raws]

        import torch

        stream = torch.cuda.Stream(model.llm.device)

        def vision_of(futures: list[Future[engine.Encoded]]) -> tuple[engine.Batch, Any]:
            return self._vision(model, [future.result() for future in futures], stream)

        encoding = [encode(0), encode(1)]
        with (
            self._lock,
            self._vision_modules(model),
            ThreadPoolExecutor(1, thread_name_prefix="minicpm-vision") as vision,
        ):
            ahead = vision.submit(vision_of, encoding[0])
            for index in range(len(chunks)):
                batch, embeds = ahead.result()
                if index + 1 < len(chunks):
                    ahead = vision.submit(vision_of, encoding[index + 1])
                encoding.append(encode(index + 2))
                raws.extend(self._decode(loaded, batch, embeds))
                logger.debug("captioned %d clips in one call, the next call's vision beside it", len(batch.layout))
                encoding[index] = []
                del batch, embeds
        return [to_caption(raw) for raw in raws]

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="minicpm-encode")
            return self._pool

    def ask(self, clip: ClipFrames, question: str, *, history: Sequence[tuple[str, str]] = ()) -> str:
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
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
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
            "max_new_tokens": self.max_new_tokens,
            "attn_implementation": self.attn_implementation,
            "vision_attention": self.vision_attention,
            "overlap_vision": self.overlap_vision,
            "cache": self.cache,
            "device": self.device,
            "loaded": self._loaded is not None,
        }


__all__ = ["MiniCPMCaptioner", "load_minicpm", "packed_batch_fix", "preflight", "resolve_device", "spread_group_rows"]
