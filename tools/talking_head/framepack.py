"""Loading FramePack (diffusers' HunyuanVideoFramepackPipeline) and placing it on the GPU.

FramePack is four downloads: the FramePack transformer (`lllyasviel/FramePackI2V_HY`, or F1
`lllyasviel/FramePack_F1_I2V_HY_20250503`), HunyuanVideo's text encoders, tokenizers, VAE and
scheduler (`hunyuanvideo-community/HunyuanVideo`), and the SigLIP image encoder with its processor
(`lllyasviel/flux_redux_bfl`). `load_framepack` checks the local cache first and raises ModelMissing
naming what is absent and `vidrag models download framepack`; it refuses the CPU unless allowed.
Memory modes: `none` (all on the GPU), `model_cpu_offload` (one whole model at a time) and
`group_offload` (text encoders and transformer streamed leaf by leaf), with VAE tiling; the default
is picked from the free GPU memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing
from vidrag.tools.evidence import JSON
from vidrag.tools.talking_head.media import MotionPipe

logger = logging.getLogger(__name__)

BASE_REPO = "hunyuanvideo-community/HunyuanVideo"
REDUX_REPO = "lllyasviel/flux_redux_bfl"
MEMORY_MODES = ("none", "model_cpu_offload", "group_offload")
GIB = 1024**3

# What must be in each repo's local snapshot: model folders need weights, the rest a config file.
_BASE_PARTS = (
    "model_index.json",
    "text_encoder/",
    "text_encoder_2/",
    "vae/",
    "tokenizer/tokenizer_config.json",
    "tokenizer_2/tokenizer_config.json",
    "scheduler/scheduler_config.json",
)
_REDUX_PARTS = ("image_encoder/", "feature_extractor/preprocessor_config.json")


@dataclass(frozen=True)
class Variant:
    """One FramePack model: its transformer repo, its sampling and the download name.

    Attributes:
        name: registry and download name (`framepack`, `framepack-f1`).
        transformer_repo: hub id of the FramePack transformer.
        sampling: `inverted_anti_drifting` (FramePack) or `vanilla` (F1, forward only).
    """

    name: str
    transformer_repo: str
    sampling: str

    def model_ids(self) -> dict[str, str]:
        """Role -> repo id, for metadata."""
        return {"transformer": self.transformer_repo, "base": BASE_REPO, "image_encoder": REDUX_REPO}


VARIANTS = {
    "framepack": Variant("framepack", "lllyasviel/FramePackI2V_HY", "inverted_anti_drifting"),
    "framepack-f1": Variant("framepack-f1", "lllyasviel/FramePack_F1_I2V_HY_20250503", "vanilla"),
}


def get_variant(name: str) -> Variant:
    """The variant called `name`.

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    if name not in VARIANTS:
        raise InputError(f"Unknown FramePack variant {name!r}; use one of {sorted(VARIANTS)}.")
    return VARIANTS[name]


def missing_weights(variant: Variant, cache_dir: str | None = None) -> list[str]:
    """The `repo/part` entries of `variant` absent from the local Hugging Face cache (never online).

    A model folder counts as present when it has a config and weight files; other parts when the
    named file exists.
    """
    wanted = [(variant.transformer_repo, ("",)), (BASE_REPO, _BASE_PARTS), (REDUX_REPO, _REDUX_PARTS)]
    missing = []
    for repo, parts in wanted:
        folder = _snapshot(repo, cache_dir)
        for part in parts:
            if folder is None or not _part_present(folder, part):
                missing.append(f"{repo}/{part}".rstrip("/"))
    return missing


def _snapshot(repo: str, cache_dir: str | None) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, cache_dir=cache_dir, local_files_only=True))
    except (OSError, ValueError) as err:  # LocalEntryNotFoundError is an OSError
        logger.debug("%s not in the local cache: %s", repo, err)
        return None


def _part_present(folder: Path, part: str) -> bool:
    from vidrag.indexing.model_registry import weights_present

    if part == "" or part.endswith("/"):
        return weights_present(folder / part)
    return (folder / part).is_file()


def require_weights(variant: Variant, cache_dir: str | None = None) -> None:
    """Raise ModelMissing unless every part of `variant` is in the cache.

    Raises:
        ModelMissing: naming the missing repos and the download command.
    """
    missing = missing_weights(variant, cache_dir)
    if missing:
        repos = sorted({_repo_of(entry) for entry in missing})
        raise ModelMissing(
            f"FramePack weights for {variant.name!r} are not downloaded: missing {', '.join(repos)} "
            f"({len(missing)} parts, e.g. {missing[0]}). Run `vidrag models download {variant.name}` "
            "(about 44 GB; resumable), or pass --tiny for a demo with tiny random weights."
        )


def _repo_of(entry: str) -> str:
    for repo in (BASE_REPO, REDUX_REPO, *(v.transformer_repo for v in VARIANTS.values())):
        if entry.startswith(repo + "/"):
            return repo
    return entry


# Measured on one H200 (torch 2.11, diffusers 0.39) with the published architecture and random bf16
# weights (benchmarks/bench_talking_head.py --full-size-random; docs/talking_head.md has the table):
# 640x640, window 9, 25 steps, VAE tiling. Per mode: seconds per denoising step, seconds per section
# beyond its steps (VAE decode, offload transfers), and peak GPU memory allocated (GiB).
MEASURED = {
    "none": {"step_s": 1.188, "section_extra_s": 3.03, "peak_gib": 43.4},
    "model_cpu_offload": {"step_s": 1.188, "section_extra_s": 18.2, "peak_gib": 26.6},
    "group_offload": {"step_s": 1.341, "section_extra_s": 3.04, "peak_gib": 6.1},
}
MEASURED_AREA = 640 * 640
MEASURED_FINAL_S = 7.4
"""The last section's extra decode and frame conversion (seconds)."""
H200_BF16_TFLOPS = 790.0
"""Dense bf16 matmul rate measured on the H200 these figures come from (KINDS.md: 769-798 TFLOP/s)."""
STEP_AREA_EXPONENT = 1.25
"""Step time grows as area**1.25 (0.69 s at 512x512, 1.20 s at 640x640: attention is quadratic in tokens)."""
FREE_GIB_FOR_NONE = 52.0
"""Free GPU memory for mode `none`: the measured 43.4 GiB peak (46.7 reserved) plus 10 % headroom."""
FREE_GIB_FOR_GROUP = 8.0
"""Free GPU memory for `group_offload`: 6.1 GiB measured peak (a part of 8 sections) plus headroom."""


def gpu_bf16_tflops(device: str) -> float:
    """This device's dense matmul rate (TFLOP/s), measured in about a second (bf16 on CUDA, fp32 on CPU)."""
    import time

    import torch

    cuda = device.startswith("cuda")
    n = 4096 if cuda else 1024
    dtype = torch.bfloat16 if cuda else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()  # warm-up, and a sync
    reps = 10 if cuda else 3
    started = time.perf_counter()
    for _ in range(reps):
        c = a @ b
    c.sum().item()
    return 2 * n**3 * reps / (time.perf_counter() - started) / 1e12


def estimate_seconds(
    sections: int, steps: int, width: int, height: int, mode: str, tflops: float = H200_BF16_TFLOPS
) -> float:
    """Seconds FramePack should take for a job, from the H200 figures scaled to the size and the device.

    Compute time scales with `H200_BF16_TFLOPS / tflops`; offload transfers are taken as on the H200's
    host link, so on a slower link the offload modes take longer than this.
    """
    figures = MEASURED[mode]
    area = width * height / MEASURED_AREA
    slower = H200_BF16_TFLOPS / max(tflops, 1e-6)
    scale: float = area**STEP_AREA_EXPONENT  # a positive base, so a float (typeshed leaves float ** float open)
    step = figures["step_s"] * scale * slower
    extra = figures["section_extra_s"] * area * slower
    return sections * (steps * step + extra) + MEASURED_FINAL_S * area * slower


def describe_seconds(seconds: float) -> str:
    """`42 s`, `3.5 min` or `2.1 h`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


DEFAULT_JOB = {"sections": 5, "steps": 25, "width": 640, "height": 640}
"""The job quoted when no job is known yet: a 5 s script (5 sections) at 640x640, 25 steps."""


def resolve_device(device: str | None, allow_cpu: bool, what: str = "the FramePack model") -> str:
    """`cuda` when present, else `cpu` if allowed.

    Raises:
        BackendUnavailable: only a CPU is available (or asked for) and `allow_cpu` is False; the
            message says how long a 5 s clip would take on this CPU.
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"Device {device!r} was asked for but torch sees no CUDA GPU; use a GPU machine.")
    if device == "cpu" and not allow_cpu:
        cpu = estimate_seconds(**DEFAULT_JOB, mode="none", tflops=gpu_bf16_tflops("cpu"))
        h200 = estimate_seconds(**DEFAULT_JOB, mode="none")
        raise BackendUnavailable(
            f"Refusing to run {what} on the CPU: a 5 s clip at 640x640 (25 steps) would take about "
            f"{describe_seconds(cpu)} here (from this CPU's measured matmul rate), against "
            f"{describe_seconds(h200)} on an H200. Run on a CUDA GPU, pass allow_cpu=True (--allow-cpu) if you "
            "really mean it, or use --tiny for a quick demo with tiny random weights."
        )
    return device


def default_memory_mode(device: str, free_gib: float | None = None) -> str:
    """Pick a memory mode from the free memory of `device`, by the measured full-size figures.

    >= 52 GiB free (`FREE_GIB_FOR_NONE`): `none`, the fastest (43.4 GiB peak at 640x640);
    otherwise `group_offload` (6.1 GiB peak, 13 % slower per step, but ~57 GiB of host RAM, 42 GiB
    with fp8 storage). `model_cpu_offload` is never the default: it measured both slower (it moves
    the whole transformer out and back for every section's VAE decode: +49 % per clip) and larger
    (26.6 GiB) than `group_offload`. The thresholds are for about 640x640; larger sizes need more.
    """
    if not device.startswith("cuda"):
        return "none"
    if free_gib is None:
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        free_gib = free / GIB
    mode = "none" if free_gib >= FREE_GIB_FOR_NONE else "group_offload"
    logger.info("%.1f GiB free on %s: memory mode %s", free_gib, device, mode)
    return mode


class Fit(TypedDict):
    """The memory mode a job runs in on a device, its time estimate there, the free memory and the GPU's speed."""

    memory_mode: str
    estimate_s: float | None
    free_gib: float | None
    tflops: int | None


def check_fits(device: str, mode: str | None, sections: int, steps: int, width: int, height: int) -> Fit:
    """Choose or check the memory mode for a job on `device`, and estimate its time there.

    Returns:
        {"memory_mode", "estimate_s", "free_gib", "tflops"}.

    Raises:
        BackendUnavailable: the GPU's free memory is below what the mode (or the smallest mode)
            needs; the message gives the need, the free memory and how long the job would take on
            this GPU in the mode that would fit with more memory.
    """
    import torch

    if not device.startswith("cuda"):
        return {"memory_mode": mode or "none", "estimate_s": None, "free_gib": None, "tflops": None}
    free, _total = torch.cuda.mem_get_info(torch.device(device))
    free_gib = free / GIB
    tflops = gpu_bf16_tflops(device)
    chosen = mode or default_memory_mode(device, free_gib)
    need = {"none": FREE_GIB_FOR_NONE, "model_cpu_offload": 32.0, "group_offload": FREE_GIB_FOR_GROUP}[chosen]
    job = f"{sections} sections x {steps} steps at {width}x{height}"
    if free_gib < need:
        fallback = "group_offload" if free_gib >= FREE_GIB_FOR_GROUP else None
        eta = estimate_seconds(sections, steps, width, height, fallback or "group_offload", tflops)
        hint = (
            f"use memory_mode='group_offload' (fits: {FREE_GIB_FOR_GROUP:.0f} GiB), which would take about "
            f"{describe_seconds(eta)} here"
            if fallback
            else f"in group_offload it needs {FREE_GIB_FOR_GROUP:.0f} GiB free and would take about "
            f"{describe_seconds(eta)} on this GPU; free memory (close other GPU programs) or use a larger GPU"
        )
        raise BackendUnavailable(
            f"FramePack in memory mode {chosen!r} needs about {need:.0f} GiB of free GPU memory; {device} has "
            f"{free_gib:.1f} GiB free. This job ({job}): {hint}."
        )
    eta = estimate_seconds(sections, steps, width, height, chosen, tflops)
    logger.info("FramePack job %s on %s in %s: about %s", job, device, chosen, describe_seconds(eta))
    return {"memory_mode": chosen, "estimate_s": round(eta, 1), "free_gib": round(free_gib, 1), "tflops": round(tflops)}


@dataclass(frozen=True)
class SpeedLevers:
    """Optional speed and memory levers diffusers offers for the FramePack transformer.

    Attributes:
        fp8_storage: keep the transformer's weights in float8 (e4m3) and upcast each layer to its
            compute dtype when it runs (`enable_layerwise_casting`): half the weight memory and half
            the bytes an offload mode moves; matmuls still run in bf16, so it is not faster on its own.
        compile: `torch.compile` each double- and single-stream block of the transformer (regional
            compilation; the first section pays the compile time).
        first_block_cache: FirstBlockCache threshold: a step whose first block's output changed by less
            than this (relative) since the last full step reuses the cached residual of the other
            blocks. How many steps it skips depends on the weights (FramePack's TeaCache at 0.15 skips
            about half with the real ones); None = off.
    """

    fp8_storage: bool = False
    compile: bool = False
    first_block_cache: float | None = None

    def describe(self) -> dict[str, JSON]:
        """The levers that are on, for metadata and benchmark rows."""
        return {k: v for k, v in asdict(self).items() if v}


def apply_memory_mode(
    pipe: MotionPipe, mode: str, device: str, vae_tiling: bool = True, levers: SpeedLevers | None = None
) -> MotionPipe:
    """Place `pipe` on `device` in a memory mode, with optional speed levers; returns `pipe`.

    Args:
        pipe: a HunyuanVideoFramepackPipeline (real, full-size random or tiny).
        mode: one of `none`, `model_cpu_offload`, `group_offload`.
        device: `cuda`, `cuda:N` or `cpu`.
        vae_tiling: decode the VAE in tiles (cuts the decode peak; frames near tile seams blend).
        levers: fp8 weight storage, torch.compile, first-block cache (see `SpeedLevers`).

    Raises:
        InputError: an unknown mode, or an offload mode on a non-CUDA device.
    """
    import torch

    if mode not in MEMORY_MODES:
        raise InputError(f"Unknown memory mode {mode!r}; use one of {list(MEMORY_MODES)}.")
    if mode != "none" and not device.startswith("cuda"):
        raise InputError(f"Memory mode {mode!r} offloads to the CPU from a GPU; on {device!r} use 'none'.")
    levers = levers or SpeedLevers()
    if levers.fp8_storage:
        # Before any offloading: the hooks must see the fp8 weights they move.
        compute = pipe.transformer.dtype
        pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute)
    if mode == "none":
        pipe.to(device)
    elif mode == "model_cpu_offload":
        pipe.enable_model_cpu_offload(device=device)
    else:
        from diffusers.hooks import apply_group_offloading

        onload = torch.device(device)
        streams = onload.type == "cuda"
        for name in ("text_encoder", "text_encoder_2", "transformer"):
            apply_group_offloading(
                getattr(pipe, name),
                onload_device=onload,
                offload_device=torch.device("cpu"),
                offload_type="leaf_level",
                use_stream=streams,
            )
        # SigLIP and the VAE are small and must sit on the GPU directly (group offload breaks them).
        pipe.image_encoder.to(onload)
        pipe.vae.to(onload)
    if vae_tiling:
        pipe.vae.enable_tiling()
    else:
        pipe.vae.disable_tiling()
    if levers.first_block_cache is not None:
        from diffusers import FirstBlockCacheConfig

        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=levers.first_block_cache))
    if levers.compile:
        for block in (*pipe.transformer.transformer_blocks, *pipe.transformer.single_transformer_blocks):
            block.compile()
    logger.info("FramePack placed on %s, memory mode %s, VAE tiling %s, levers %s", device, mode, vae_tiling, levers)
    return pipe


def load_framepack(
    variant: str = "framepack",
    *,
    device: str | None = None,
    memory_mode: str | None = None,
    allow_cpu: bool = False,
    cache_dir: str | None = None,
    vae_tiling: bool = True,
    levers: SpeedLevers | None = None,
    random_weights: bool = False,
) -> MotionPipe:
    """Load the real FramePack pipeline from the local cache and place it on the device.

    The transformer loads in bfloat16 and the rest in float16, as FramePack's authors run it. With
    `random_weights` nothing is read from the cache: every component is built at its published size
    with random bfloat16 weights directly on the device (`full.full_size_pipeline`), to time the model
    and measure its memory without the 44 GB download; the video is noise.

    Args:
        variant: `framepack` (inverted anti-drifting sampling) or `framepack-f1` (vanilla).
        device: `cuda`, `cuda:N` or `cpu`; None = CUDA if present.
        memory_mode: `none`, `model_cpu_offload`, `group_offload`; None = chosen from free memory.
        allow_cpu: run on the CPU anyway (hours per clip).
        cache_dir: Hugging Face cache folder, None for the default.
        vae_tiling: enable VAE tiling.
        levers: speed levers (fp8 storage, compile, first-block cache); None = none.
        random_weights: build the published architecture with random weights instead of loading.

    Returns:
        The ready pipeline.

    Raises:
        InputError: an unknown variant or memory mode.
        BackendUnavailable: CPU only and `allow_cpu` is False.
        ModelMissing: weights are not downloaded (names them and `vidrag models download ...`).
    """
    spec = get_variant(variant)
    device = resolve_device(device, allow_cpu)
    if random_weights:
        from vidrag.tools.talking_head.full import full_size_pipeline

        # Built on the device (fast random fill); the offload modes then move the weights to the host.
        mode = memory_mode or default_memory_mode(device)
        return apply_memory_mode(full_size_pipeline(device), mode, device, vae_tiling, levers)
    require_weights(spec, cache_dir)
    import torch
    from diffusers import HunyuanVideoFramepackPipeline, HunyuanVideoFramepackTransformer3DModel
    from transformers import SiglipImageProcessor, SiglipVisionModel

    try:
        transformer = HunyuanVideoFramepackTransformer3DModel.from_pretrained(
            spec.transformer_repo, torch_dtype=torch.bfloat16, cache_dir=cache_dir, local_files_only=True
        )
        extractor = SiglipImageProcessor.from_pretrained(
            REDUX_REPO, subfolder="feature_extractor", cache_dir=cache_dir, local_files_only=True
        )
        encoder = SiglipVisionModel.from_pretrained(
            REDUX_REPO, subfolder="image_encoder", torch_dtype=torch.float16, cache_dir=cache_dir, local_files_only=True
        )
        pipe = HunyuanVideoFramepackPipeline.from_pretrained(
            BASE_REPO,
            transformer=transformer,
            feature_extractor=extractor,
            image_encoder=encoder,
            torch_dtype=torch.float16,
            cache_dir=cache_dir,
            local_files_only=True,
        )
    except OSError as err:
        raise ModelMissing(
            f"FramePack weights for {variant!r} are incomplete ({err}); run `vidrag models download {variant}` "
            "again to resume the download."
        ) from err
    pipe.set_progress_bar_config(disable=True)
    return apply_memory_mode(pipe, memory_mode or default_memory_mode(device), device, vae_tiling, levers)


_CACHE: dict[str, MotionPipe] = {}


def cached_pipeline(key: str, factory: Callable[[], MotionPipe]) -> MotionPipe:
    """Keep one loaded pipeline: reuse it for the same key, free the old one for a new key."""
    if key not in _CACHE:
        release_pipelines()
        _CACHE[key] = factory()
    return _CACHE[key]


def release_pipelines() -> None:
    """Drop the cached pipeline and return its GPU memory."""
    import gc

    _CACHE.clear()
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
