"""FramePack at its published size with random weights, built directly on the GPU (speed and memory only).

Every component of `HunyuanVideoFramepackPipeline` is built from its real configuration: the FramePack
transformer of `lllyasviel/FramePackI2V_HY` (12.9 B parameters), the LLaVA-Llama-3-8B text encoder and
CLIP-L text encoder of `hunyuanvideo-community/HunyuanVideo`, the SigLIP so400m image encoder of
`lllyasviel/flux_redux_bfl` and the HunyuanVideo VAE. The modules are created on the meta device (no
memory at all) and their parameters are then materialised as random bfloat16 tensors directly on the
target device, so 21 B parameters never pass through host memory. The weights are random: the video is
noise, never a face. What this measures is how long each section takes and how much memory each memory
mode needs, through the same `apply_memory_mode` / `run_motion` code as the real model.

Where each configuration was read (the published config.json files are not reachable here):
- transformer: lllyasviel/FramePack `diffusers_helper/models/hunyuan_video_packed.py`
  (`HunyuanVideoTransformer3DModelPacked.__init__` defaults: 16 channels, 24 heads x 128, 20 double /
  40 single / 2 refiner layers, mlp 4, patch 2 / 1, rms_norm, guidance embeds, text 4096, pooled 768,
  rope theta 256 and axes (16, 56, 56), image projection 1152) with the two options FramePackI2V_HY's
  config.json turns on, `has_image_proj` and `has_clean_x_embedder` (a copy of that config.json in a
  third-party trainer's FramePack loader, found by code search, has exactly these values); diffusers'
  `HunyuanVideoFramepackTransformer3DModel` takes the same keys (its tests set both options).
- Llama and CLIP-L text encoders: the text_encoder / text_encoder_2 config.json of HunyuanVideo, as
  copied verbatim into kohya-ss/musubi-tuner `src/musubi_tuner/frame_pack/framepack_utils.py`
  (LLAMA_CONFIG, CLIP_CONFIG, "copied from HunyuanVideo repo").
- SigLIP image encoder and its processor: `lllyasviel/flux_redux_bfl` image_encoder / feature_extractor
  config.json, copied in the same musubi-tuner file (IMAGE_ENCODER_CONFIG, FEATURE_EXTRACTOR_CONFIG).
- VAE: `AutoencoderKLHunyuanVideo`'s defaults in diffusers 0.39 (16 latent channels, blocks
  128/256/512/512, 2 layers per block, 32 groups, scaling 0.476986, 8x / 4x; 246 M parameters,
  493 MB in bf16); the published vae/config.json was not reachable to compare.
- scheduler: FlowMatchEulerDiscreteScheduler with shift 7.0 (HunyuanVideo's flow shift).
Tokenizers are the local ones of `tiny.py`: the pipeline pads every prompt to its fixed lengths (351
Llama tokens, cropped to 256; 77 CLIP tokens), so the encoders and the transformer do the same work as
with the real tokenizers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from vidrag.tools.evidence import JSON
from vidrag.tools.talking_head.media import MotionPipe

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

Config = dict[str, JSON]
"""A module's constructor arguments (the published config of its weights)."""

FRAMEPACK_TRANSFORMER_CONFIG: Config = {
    "in_channels": 16,
    "out_channels": 16,
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "num_layers": 20,
    "num_single_layers": 40,
    "num_refiner_layers": 2,
    "mlp_ratio": 4.0,
    "patch_size": 2,
    "patch_size_t": 1,
    "qk_norm": "rms_norm",
    "guidance_embeds": True,
    "text_embed_dim": 4096,
    "pooled_projection_dim": 768,
    "rope_theta": 256.0,
    "rope_axes_dim": (16, 56, 56),
    "image_condition_type": None,
    "has_image_proj": True,
    "image_proj_dim": 1152,
    "has_clean_x_embedder": True,
}
"""lllyasviel/FramePackI2V_HY's transformer (diffusers `HunyuanVideoFramepackTransformer3DModel` keys)."""

LLAMA_TEXT_ENCODER_CONFIG: Config = {
    "vocab_size": 128320,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
}
"""HunyuanVideo's text_encoder: the Llama-3-8B language model of llava-llama-3-8b (LlamaModel)."""

CLIP_TEXT_ENCODER_CONFIG: Config = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "bos_token_id": 0,
    "pad_token_id": 1,
    "eos_token_id": 2,
}
"""HunyuanVideo's text_encoder_2: the CLIP ViT-L/14 text tower (CLIPTextModel)."""

SIGLIP_IMAGE_ENCODER_CONFIG: Config = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 384,
    "patch_size": 14,
    "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-06,
    "attention_dropout": 0.0,
}
"""lllyasviel/flux_redux_bfl's image_encoder: SigLIP so400m/14 at 384 px (729 image tokens)."""

SIGLIP_PROCESSOR_CONFIG: Config = {
    "do_resize": True,
    "size": {"height": 384, "width": 384},
    "resample": 3,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
"""lllyasviel/flux_redux_bfl's feature_extractor (SiglipImageProcessor)."""

HUNYUAN_VAE_CONFIG: Config = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 16,
    "down_block_types": ("HunyuanVideoDownBlock3D",) * 4,
    "up_block_types": ("HunyuanVideoUpBlock3D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "scaling_factor": 0.476986,
    "spatial_compression_ratio": 8,
    "temporal_compression_ratio": 4,
    "mid_block_add_attention": True,
}
"""HunyuanVideo's VAE (AutoencoderKLHunyuanVideo)."""

FULL_SIZE_CONFIGS: dict[str, Config] = {
    "transformer": FRAMEPACK_TRANSFORMER_CONFIG,
    "text_encoder": LLAMA_TEXT_ENCODER_CONFIG,
    "text_encoder_2": CLIP_TEXT_ENCODER_CONFIG,
    "image_encoder": SIGLIP_IMAGE_ENCODER_CONFIG,
    "vae": HUNYUAN_VAE_CONFIG,
}

FULL_SIZE_MODEL_IDS = {
    "transformer": "random weights, lllyasviel/FramePackI2V_HY config",
    "base": "random weights, hunyuanvideo-community/HunyuanVideo config",
    "image_encoder": "random weights, lllyasviel/flux_redux_bfl config",
}

INIT_STD = 0.02
"""Standard deviation of the random matrices (the configs' `initializer_range`)."""


def build_modules(configs: dict[str, Config] | None = None) -> dict[str, torch.nn.Module]:
    """The five neural modules with their parameters on the meta device (no memory for them).

    Buffers (position ids, rotary frequencies) are real and on the CPU: they are small, and the
    modules' constructors compute them.

    Args:
        configs: role -> config (defaults to `FULL_SIZE_CONFIGS`); a test passes smaller ones.

    Returns:
        {"transformer", "text_encoder", "text_encoder_2", "image_encoder", "vae"} -> module.
    """
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLHunyuanVideo, HunyuanVideoFramepackTransformer3DModel
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        LlamaConfig,
        LlamaModel,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    configs = configs or FULL_SIZE_CONFIGS
    with init_empty_weights(include_buffers=False):
        return {
            "transformer": _module(HunyuanVideoFramepackTransformer3DModel(**configs["transformer"])),
            "text_encoder": LlamaModel(LlamaConfig(**configs["text_encoder"])),
            "text_encoder_2": CLIPTextModel(CLIPTextConfig(**configs["text_encoder_2"])),
            "image_encoder": SiglipVisionModel(SiglipVisionConfig(**configs["image_encoder"])),
            "vae": _module(AutoencoderKLHunyuanVideo(**configs["vae"])),
        }


def _module(model: object) -> torch.nn.Module:
    """A diffusers model as the `nn.Module` it is (its mixins hide that from a type checker)."""
    return cast("torch.nn.Module", model)


def materialize(
    module: torch.nn.Module, device: str, dtype: torch.dtype, generator: torch.Generator
) -> torch.nn.Module:
    """Give a module's meta parameters random values on `device` (in `dtype`), move its buffers there.

    Matrices and kernels are drawn from N(0, INIT_STD); one-dimensional weights (norm scales) are
    ones and biases zeros, so activations stay finite through the deep stacks. Each tensor is made
    on `device` directly: nothing of the weights passes through host memory.
    """
    import torch

    for name, param in list(module.named_parameters()):
        owner_name, _, leaf = name.rpartition(".")
        owner = module.get_submodule(owner_name) if owner_name else module
        value = torch.empty(param.shape, dtype=dtype, device=device)
        if param.ndim >= 2:
            value.normal_(0.0, INIT_STD, generator=generator)
        elif leaf == "bias":
            value.zero_()
        else:
            value.fill_(1.0)
        owner._parameters[leaf] = torch.nn.Parameter(value, requires_grad=False)
    return module.to(device).eval().requires_grad_(False)


def parameter_count(module: torch.nn.Module) -> int:
    """Parameters of a module (works on the meta device)."""
    return sum(p.numel() for p in module.parameters())


def full_size_components(
    device: str = "cuda", dtype: torch.dtype | None = None, seed: int = 0, configs: dict[str, Config] | None = None
) -> dict[str, object]:
    """Every component of HunyuanVideoFramepackPipeline at its published size, random, on `device`.

    Args:
        device: where the weights are created (`cuda`, `cuda:N`; `cpu` only for small test configs).
        dtype: parameter dtype; None = bfloat16.
        seed: seeds the random weights (a generator on `device`).
        configs: role -> config; None = the published sizes (`FULL_SIZE_CONFIGS`).

    Returns:
        The pipeline's keyword arguments.
    """
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler
    from transformers import SiglipImageProcessor

    from vidrag.tools.talking_head.tiny import char_tokenizer, clip_tokenizer

    dtype = dtype or torch.bfloat16
    generator = torch.Generator(device).manual_seed(seed)
    modules = build_modules(configs)
    for role, module in modules.items():
        materialize(module, device, dtype, generator)
        logger.info("built %s: %.3f B random parameters on %s", role, parameter_count(module) / 1e9, device)
    return {
        **modules,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "tokenizer": char_tokenizer(),
        "tokenizer_2": clip_tokenizer(),
        # Any: transformers types each keyword of the processor (`resample` as an enum); the config is JSON
        "feature_extractor": SiglipImageProcessor(**cast("dict[str, Any]", SIGLIP_PROCESSOR_CONFIG)),
    }


def full_size_pipeline(
    device: str = "cuda", dtype: torch.dtype | None = None, seed: int = 0, configs: dict[str, Config] | None = None
) -> MotionPipe:
    """A HunyuanVideoFramepackPipeline at FramePack's published size with random weights, on `device`.

    Place it with `framepack.apply_memory_mode` (the offload modes move the weights to the host) and
    run it with `pipeline.run_motion`, like the real model; call it with the default prompt template.
    """
    from diffusers import HunyuanVideoFramepackPipeline

    pipe: MotionPipe = HunyuanVideoFramepackPipeline(**full_size_components(device, dtype, seed, configs))
    pipe.set_progress_bar_config(disable=True)
    return pipe
