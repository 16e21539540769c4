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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing

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


def resolve_device(device: str | None, allow_cpu: bool, what: str = "the FramePack model") -> str:
    """`cuda` when present, else `cpu` if allowed.

    Raises:
        BackendUnavailable: only a CPU is available (or asked for) and `allow_cpu` is False.
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"Device {device!r} was asked for but torch sees no CUDA GPU; use a GPU machine.")
    if device == "cpu" and not allow_cpu:
        raise BackendUnavailable(
            f"Refusing to run {what} on the CPU: a few seconds of video take hours there. "
            "Run on a CUDA GPU, pass allow_cpu=True (--allow-cpu) if you really mean it, "
            "or use --tiny for a quick demo with tiny random weights."
        )
    return device


def default_memory_mode(device: str) -> str:
    """Pick a memory mode from the free memory of `device` (estimates for the 13B bf16 model).

    >= 60 GiB free: `none` (transformer ~26 GB + Llama text encoder ~16 GB + activations);
    >= 32 GiB: `model_cpu_offload` (the whole transformer on the GPU at once);
    less: `group_offload` (leaf-level streaming; slowest, smallest).
    """
    if not device.startswith("cuda"):
        return "none"
    import torch

    free, _total = torch.cuda.mem_get_info(torch.device(device))
    mode = "none" if free >= 60 * GIB else "model_cpu_offload" if free >= 32 * GIB else "group_offload"
    logger.info("%.1f GiB free on %s: memory mode %s", free / GIB, device, mode)
    return mode


def apply_memory_mode(pipe: Any, mode: str, device: str, vae_tiling: bool = True) -> Any:
    """Place `pipe` on `device` in a memory mode; returns `pipe`.

    Args:
        pipe: a HunyuanVideoFramepackPipeline (real or tiny).
        mode: one of `none`, `model_cpu_offload`, `group_offload`.
        device: `cuda`, `cuda:N` or `cpu`.
        vae_tiling: decode the VAE in tiles (cuts the decode peak; frames near tile seams blend).

    Raises:
        InputError: an unknown mode, or an offload mode on a non-CUDA device.
    """
    import torch

    if mode not in MEMORY_MODES:
        raise InputError(f"Unknown memory mode {mode!r}; use one of {list(MEMORY_MODES)}.")
    if mode != "none" and not device.startswith("cuda"):
        raise InputError(f"Memory mode {mode!r} offloads to the CPU from a GPU; on {device!r} use 'none'.")
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
    logger.info("FramePack placed on %s, memory mode %s, VAE tiling %s", device, mode, vae_tiling)
    return pipe


def load_framepack(
    variant: str = "framepack",
    *,
    device: str | None = None,
    memory_mode: str | None = None,
    allow_cpu: bool = False,
    cache_dir: str | None = None,
    vae_tiling: bool = True,
) -> Any:
    """Load the real FramePack pipeline from the local cache and place it on the device.

    The transformer loads in bfloat16 and the rest in float16, as FramePack's authors run it.

    Args:
        variant: `framepack` (inverted anti-drifting sampling) or `framepack-f1` (vanilla).
        device: `cuda`, `cuda:N` or `cpu`; None = CUDA if present.
        memory_mode: `none`, `model_cpu_offload`, `group_offload`; None = chosen from free memory.
        allow_cpu: run on the CPU anyway (hours per clip).
        cache_dir: Hugging Face cache folder, None for the default.
        vae_tiling: enable VAE tiling.

    Returns:
        The ready pipeline.

    Raises:
        InputError: an unknown variant or memory mode.
        BackendUnavailable: CPU only and `allow_cpu` is False.
        ModelMissing: weights are not downloaded (names them and `vidrag models download ...`).
    """
    spec = get_variant(variant)
    device = resolve_device(device, allow_cpu)
    require_weights(spec, cache_dir)
    import torch
    from diffusers import HunyuanVideoFramepackPipeline, HunyuanVideoFramepackTransformer3DModel
    from transformers import SiglipImageProcessor, SiglipVisionModel

    common: dict[str, Any] = {"cache_dir": cache_dir, "local_files_only": True}
    try:
        transformer = HunyuanVideoFramepackTransformer3DModel.from_pretrained(
            spec.transformer_repo, torch_dtype=torch.bfloat16, **common
        )
        extractor = SiglipImageProcessor.from_pretrained(REDUX_REPO, subfolder="feature_extractor", **common)
        encoder = SiglipVisionModel.from_pretrained(
            REDUX_REPO, subfolder="image_encoder", torch_dtype=torch.float16, **common
        )
        pipe = HunyuanVideoFramepackPipeline.from_pretrained(
            BASE_REPO,
            transformer=transformer,
            feature_extractor=extractor,
            image_encoder=encoder,
            torch_dtype=torch.float16,
            **common,
        )
    except OSError as err:
        raise ModelMissing(
            f"FramePack weights for {variant!r} are incomplete ({err}); run `vidrag models download {variant}` "
            "again to resume the download."
        ) from err
    pipe.set_progress_bar_config(disable=True)
    return apply_memory_mode(pipe, memory_mode or default_memory_mode(device), device, vae_tiling)


_CACHE: dict[str, Any] = {}


def cached_pipeline(key: str, factory: Any) -> Any:
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
