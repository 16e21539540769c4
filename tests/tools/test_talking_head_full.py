"""FramePack at its published size: the configs on the meta device, and the same build path with small
configs on the CPU; parts, cancellation, speed levers and memory-mode choice on the tiny pipeline.
Building 21 B parameters on the meta device takes ~15 s (the module constructors), so those tests are `slow`.

The published values below were read from lllyasviel/FramePack (`diffusers_helper/models/
hunyuan_video_packed.py`, HunyuanVideoTransformer3DModelPacked) with FramePackI2V_HY's
`has_image_proj` / `has_clean_x_embedder`, and from HunyuanVideo's text_encoder, text_encoder_2 and
flux_redux_bfl's image_encoder config.json (as copied in kohya-ss/musubi-tuner
`src/musubi_tuner/frame_pack/framepack_utils.py`). They are written out here independently of
`tools/talking_head/full.py`, so a changed build fails.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from vidrag.tools.talking_head import full
from vidrag.tools.talking_head.framepack import (
    FREE_GIB_FOR_NONE,
    SpeedLevers,
    apply_memory_mode,
    check_fits,
    default_memory_mode,
    describe_seconds,
    estimate_seconds,
)
from vidrag.tools.talking_head.pipeline import Cancelled, MotionSettings, TalkingHeadPipeline, run_motion
from vidrag.tools.talking_head.sections import plan_sections
from vidrag.tools.talking_head.tiny import TINY_MODEL_IDS, TINY_PROMPT_TEMPLATE, tiny_pipeline

PUBLISHED_TRANSFORMER = {
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
    "has_image_proj": True,
    "image_proj_dim": 1152,
    "has_clean_x_embedder": True,
}
PUBLISHED_LLAMA = {
    "vocab_size": 128320,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "max_position_embeddings": 8192,
    "hidden_act": "silu",
}
PUBLISHED_CLIP = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
}
PUBLISHED_SIGLIP = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 384,
    "patch_size": 14,
    "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-06,
}
PUBLISHED_VAE = {
    "latent_channels": 16,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "scaling_factor": 0.476986,
    "spatial_compression_ratio": 8,
    "temporal_compression_ratio": 4,
}
# Parameter counts: the transformer's 12.87 B (25.7 GB of bf16 safetensors), Llama-3-8B without its
# 0.53 B output head (7.50 B), CLIP ViT-L/14's text tower (123 M), SigLIP so400m/14 (428 M), and
# HunyuanVideo's VAE (246 M).
PUBLISHED_PARAMS = {
    "transformer": 12.87e9,
    "text_encoder": 7.50e9,
    "text_encoder_2": 0.123e9,
    "image_encoder": 0.428e9,
    "vae": 0.246e9,
}

SMALL = {
    "transformer": {
        **full.FRAMEPACK_TRANSFORMER_CONFIG,
        "num_attention_heads": 2,
        "attention_head_dim": 16,
        "num_layers": 1,
        "num_single_layers": 1,
        "num_refiner_layers": 1,
        "text_embed_dim": 32,
        "pooled_projection_dim": 16,
        "rope_axes_dim": (4, 6, 6),
        "image_proj_dim": 32,
    },
    "text_encoder": {
        **full.LLAMA_TEXT_ENCODER_CONFIG,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
    },
    "text_encoder_2": {
        **full.CLIP_TEXT_ENCODER_CONFIG,
        "hidden_size": 16,
        "intermediate_size": 32,
        "projection_dim": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    },
    "image_encoder": {
        **full.SIGLIP_IMAGE_ENCODER_CONFIG,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    },
    "vae": {**full.HUNYUAN_VAE_CONFIG, "block_out_channels": (8, 8, 8, 8), "layers_per_block": 1, "norm_num_groups": 4},
}
FAST = MotionSettings(steps=2, latent_window_size=3, prompt="a person talks")


@pytest.fixture(scope="module")
def meta_modules():
    return full.build_modules()


@pytest.fixture(scope="module")
def tiny():
    return tiny_pipeline(0)


@pytest.fixture(scope="module")
def face():
    return Image.fromarray(np.random.default_rng(5).integers(0, 255, (32, 32, 3), dtype=np.uint8))


def _config(module):
    config = module.config
    return config if isinstance(config, dict) else config.to_dict()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("role", "published"),
    [
        ("transformer", PUBLISHED_TRANSFORMER),
        ("text_encoder", PUBLISHED_LLAMA),
        ("text_encoder_2", PUBLISHED_CLIP),
        ("image_encoder", PUBLISHED_SIGLIP),
        ("vae", PUBLISHED_VAE),
    ],
)
def test_full_size_build_has_the_published_configuration(meta_modules, role, published):
    config = _config(meta_modules[role])
    got = {key: (tuple(config[key]) if isinstance(config[key], list) else config[key]) for key in published}
    assert got == published
    if role == "transformer":
        assert tuple(config["rope_axes_dim"]) == (16, 56, 56)
        assert sum(config["rope_axes_dim"]) == config["attention_head_dim"]


@pytest.mark.slow
def test_full_size_build_has_the_published_parameter_counts_and_allocates_nothing(meta_modules):
    for role, module in meta_modules.items():
        count = full.parameter_count(module)
        assert abs(count - PUBLISHED_PARAMS[role]) / PUBLISHED_PARAMS[role] < 0.01, (role, count)
        assert {p.device.type for p in module.parameters()} == {"meta"}
    total = sum(full.parameter_count(m) for m in meta_modules.values())
    assert 21.1e9 < total < 21.3e9  # 42.4 GB in bf16: why the offload modes exist


@pytest.mark.slow
def test_the_same_build_path_runs_the_pipeline_with_small_configs(face):
    pipe = full.full_size_pipeline("cpu", torch.float32, seed=3, configs=SMALL)
    again = full.full_size_pipeline("cpu", torch.float32, seed=3, configs=SMALL)
    first = next(pipe.transformer.parameters())
    assert first.device.type == "cpu" and first.dtype == torch.float32
    assert torch.equal(first, next(again.transformer.parameters()))
    assert pipe.feature_extractor.size == {"height": 384, "width": 384}
    frames, times = run_motion(pipe, face, 32, 32, plan_sections(0.5, 30, 3), FAST)
    assert frames.shape == (15, 32, 32, 3) and frames.dtype == np.uint8
    assert len(times["steps"]) == 2 * 2 and times["parts"] == [2]


@pytest.mark.slow
def test_long_plans_run_in_parts_with_the_same_frame_count(tiny, face):
    plan = plan_sections(0.8, 30, 3)
    chunks = []
    whole, one = run_motion(tiny, face, 32, 32, plan, FAST, prompt_template=TINY_PROMPT_TEMPLATE)
    streamed, parts = run_motion(
        tiny,
        face,
        32,
        32,
        plan,
        FAST,
        prompt_template=TINY_PROMPT_TEMPLATE,
        on_frames=chunks.append,
        max_part_sections=1,
    )
    assert streamed is None and one["parts"] == [plan.sections] and parts["parts"] == [1] * plan.sections
    assert sum(c.shape[0] for c in chunks) == whole.shape[0] == plan.target_frames
    assert all(c.dtype == np.uint8 and c.shape[1:] == (32, 32, 3) for c in chunks)


def test_a_job_stops_after_the_step_where_it_is_cancelled(tiny, face):
    steps = []
    with pytest.raises(Cancelled, match="cancelled"):
        run_motion(
            tiny,
            face,
            32,
            32,
            plan_sections(1.2, 30, 3),
            FAST,
            prompt_template=TINY_PROMPT_TEMPLATE,
            on_step=lambda: steps.append(1),
            should_stop=lambda: len(steps) >= 1,
            max_part_sections=1,
        )
    assert len(steps) == 1  # of 3 sections x 2 steps


def test_a_job_cancelled_between_parts_runs_no_further_part(tiny, face):
    chunks = []
    with pytest.raises(Cancelled):
        run_motion(
            tiny,
            face,
            32,
            32,
            plan_sections(0.8, 30, 3),
            FAST,
            prompt_template=TINY_PROMPT_TEMPLATE,
            on_frames=chunks.append,
            should_stop=lambda: len(chunks) >= 1,
            max_part_sections=1,
        )
    assert len(chunks) == 1


def test_a_cancelled_generation_leaves_no_output(tiny, tmp_path):
    portrait = tmp_path / "face.png"
    Image.fromarray(np.full((32, 32, 3), 128, dtype=np.uint8)).save(portrait)
    out = tmp_path / "talk.mp4"
    maker = TalkingHeadPipeline(lambda: tiny, model_ids=TINY_MODEL_IDS, prompt_template=TINY_PROMPT_TEMPLATE)
    settings = MotionSettings(steps=2, latent_window_size=3, target_area=32 * 32)
    with pytest.raises(Cancelled):
        maker.generate(portrait, "Hello there, and welcome.", out, settings, should_stop=lambda: True)
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.slow
def test_speed_levers_apply_to_the_pipeline(face):
    plan = plan_sections(0.5, 30, 3)
    plain = apply_memory_mode(tiny_pipeline(0), "none", "cpu")
    cached = apply_memory_mode(tiny_pipeline(0), "none", "cpu", levers=SpeedLevers(first_block_cache=1e9))
    stored = apply_memory_mode(tiny_pipeline(0), "none", "cpu", levers=SpeedLevers(fp8_storage=True))
    base, _ = run_motion(plain, face, 32, 32, plan, FAST, prompt_template=TINY_PROMPT_TEMPLATE)
    reused, _ = run_motion(cached, face, 32, 32, plan, FAST, prompt_template=TINY_PROMPT_TEMPLATE)
    fp8, _ = run_motion(stored, face, 32, 32, plan, FAST, prompt_template=TINY_PROMPT_TEMPLATE)
    assert base.shape == reused.shape == fp8.shape
    assert not np.array_equal(base, reused)  # every step after the first reused the cached blocks
    assert not np.array_equal(base, fp8)  # the weights went through float8
    assert any(p.dtype == torch.float8_e4m3fn for p in stored.transformer.transformer_blocks.parameters())
    assert SpeedLevers(fp8_storage=True).describe() == {"fp8_storage": True}


def test_memory_mode_defaults_follow_the_measured_thresholds():
    assert default_memory_mode("cuda", free_gib=FREE_GIB_FOR_NONE) == "none"
    assert default_memory_mode("cuda", free_gib=40.0) == "group_offload"  # model_cpu_offload: slower and larger
    assert default_memory_mode("cuda", free_gib=6.0) == "group_offload"
    assert default_memory_mode("cpu") == "none"
    assert check_fits("cpu", None, 5, 25, 640, 640)["memory_mode"] == "none"


def test_time_estimates_scale_with_the_job_and_the_device():
    h200 = estimate_seconds(5, 25, 640, 640, "none")
    assert 150 < h200 < 190  # the measured 5 s script: 168 s
    assert estimate_seconds(10, 25, 640, 640, "none") > 1.9 * h200
    assert estimate_seconds(5, 25, 640, 640, "none", tflops=79.0) == pytest.approx(10 * h200)
    assert estimate_seconds(5, 25, 512, 512, "none") < 0.7 * h200
    assert estimate_seconds(5, 25, 640, 640, "group_offload") > h200
    assert [describe_seconds(s) for s in (42, 300, 9000)] == ["42 s", "5.0 min", "2.5 h"]
