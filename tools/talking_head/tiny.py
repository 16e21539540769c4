"""Tiny, randomly initialised FramePack components, built offline with no hub access.

The real `HunyuanVideoFramepackPipeline` runs on these exactly as on the 13B model: the same section
loop, VAE decode, text and image encoding. Only the weights are random and the sizes tiny, so tests,
the notebook, `vidrag talking-head --tiny` and the GPU benchmark can exercise the real pipeline code
without a 30 GB download. The output is coloured noise shaped like a video; never judge quality by it.
Tokenizers are built locally (a character-level WordLevel tokenizer for the Llama slot, a CLIP BPE
tokenizer from a tiny vocabulary written to a temporary folder), because hub loads come back empty
offline instead of failing.
"""

from __future__ import annotations

import json
import logging
import string
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.tools.talking_head.media import MotionPipe

if TYPE_CHECKING:
    from diffusers import AutoencoderKLHunyuanVideo, HunyuanVideoFramepackTransformer3DModel
    from transformers import (
        CLIPTextModel,
        CLIPTokenizer,
        LlamaModel,
        PreTrainedTokenizerFast,
        SiglipImageProcessor,
        SiglipVisionModel,
    )

logger = logging.getLogger(__name__)

TINY_TEXT_DIM = 16
TINY_POOLED_DIM = 8
TINY_IMAGE_DIM = 32
TINY_IMAGE_SIZE = 32
TINY_VOCAB = 1000
TINY_PROMPT_TEMPLATE = {"template": "{}", "crop_start": 0}
"""Prompt template for the tiny text encoder (the real one has a 95-token Llama system prompt)."""

TINY_MODEL_IDS = {
    "transformer": "tiny-random (local)",
    "base": "tiny-random (local)",
    "image_encoder": "tiny-random (local)",
}

_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def tiny_transformer() -> HunyuanVideoFramepackTransformer3DModel:
    """A one-block HunyuanVideoFramepackTransformer3DModel with FramePack's image and history inputs."""
    from diffusers import HunyuanVideoFramepackTransformer3DModel

    return HunyuanVideoFramepackTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=TINY_TEXT_DIM,
        pooled_projection_dim=TINY_POOLED_DIM,
        rope_axes_dim=(2, 4, 4),
        image_condition_type=None,
        has_image_proj=True,
        image_proj_dim=TINY_IMAGE_DIM,
        has_clean_x_embedder=True,
    )


def tiny_vae() -> AutoencoderKLHunyuanVideo:
    """An AutoencoderKLHunyuanVideo with 4 latent channels and the real 8x spatial / 4x temporal factors."""
    from diffusers import AutoencoderKLHunyuanVideo

    return AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )


def tiny_text_encoders() -> tuple[LlamaModel, CLIPTextModel]:
    """A 2-layer LlamaModel (hidden 16) and CLIPTextModel (hidden 8), ids bos 0 / pad 1 / eos 2."""
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    llama = LlamaModel(
        LlamaConfig(
            vocab_size=TINY_VOCAB,
            hidden_size=TINY_TEXT_DIM,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
        )
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=TINY_VOCAB,
            hidden_size=TINY_POOLED_DIM,
            intermediate_size=37,
            projection_dim=TINY_POOLED_DIM,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="gelu",
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
        )
    )
    return llama, clip


def char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level WordLevel tokenizer in PreTrainedTokenizerFast (ids 0/1/2 = bos/pad/eos)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in string.printable if c not in _SPECIALS]
    vocab = {token: i for i, token in enumerate([*_SPECIALS, *dict.fromkeys(chars)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def clip_tokenizer(folder: Path | None = None) -> CLIPTokenizer:
    """A real CLIPTokenizer over a byte-level vocabulary without merges, written to `folder`."""
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    folder = Path(folder or tempfile.mkdtemp(prefix="vidrag-tiny-clip-"))
    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(bytes_to_unicode().values())
    tokens = ["<|startoftext|>", "<|pad|>", "<|endoftext|>", *symbols, *(s + "</w>" for s in symbols)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"),
        merges_file=str(folder / "merges.txt"),
        pad_token="<|pad|>",
        model_max_length=77,
    )


def tiny_image_encoder() -> tuple[SiglipVisionModel, SiglipImageProcessor]:
    """A SiglipVisionModel with hidden size 32 and a SiglipImageProcessor resizing to 32x32."""
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=TINY_IMAGE_DIM,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=TINY_IMAGE_SIZE,
            patch_size=8,
        )
    )
    processor = SiglipImageProcessor(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}, do_resize=True)
    return encoder, processor


def tiny_components(seed: int = 0) -> dict[str, object]:
    """Every component of HunyuanVideoFramepackPipeline, tiny and random, seeded by `seed`."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    torch.manual_seed(seed)
    transformer = tiny_transformer()
    torch.manual_seed(seed)
    vae = tiny_vae()
    torch.manual_seed(seed)
    text_encoder, text_encoder_2 = tiny_text_encoders()
    torch.manual_seed(seed)
    image_encoder, feature_extractor = tiny_image_encoder()
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "text_encoder": text_encoder,
        "tokenizer": char_tokenizer(),
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": clip_tokenizer(),
        "image_encoder": image_encoder,
        "feature_extractor": feature_extractor,
    }


def tiny_pipeline(seed: int = 0) -> MotionPipe:
    """A HunyuanVideoFramepackPipeline over tiny random components, on the CPU in float32.

    Args:
        seed: seeds the random weights, so equal seeds give equal pipelines.

    Returns:
        The pipeline. Call it with `prompt_template=TINY_PROMPT_TEMPLATE`; move it with the memory
        modes in `vidrag.tools.talking_head.framepack` like the real one.
    """
    from diffusers import HunyuanVideoFramepackPipeline

    pipe: MotionPipe = HunyuanVideoFramepackPipeline(**tiny_components(seed))
    pipe.set_progress_bar_config(disable=True)
    logger.debug("built tiny FramePack pipeline (seed %d)", seed)
    return pipe
