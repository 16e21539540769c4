"""MiniCPM-V-4.5 captioning against the model's REAL remote code (a tiny random model, no fakes).

Build the model once with `build_tiny_minicpm.py --git-dir <mirror of PcOffeeP/FineTune_MLLM>
--out DIR` (real remote code and tokenizer, random weights, ~40 M parameters; never committed) and
set VIDRAG_TEST_MINICPM_DIR=DIR. VIDRAG_TEST_MINICPM_DEVICE=cuda runs them on a GPU (in float32 there,
so that batched and single-clip answers can be compared exactly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidrag.indexing.caption_prompt import caption_prompt
from vidrag.indexing.captioners.base import ClipFrames

FOLDER = os.environ.get("VIDRAG_TEST_MINICPM_DIR", "")
DEVICE = os.environ.get("VIDRAG_TEST_MINICPM_DEVICE", "cpu")
pytestmark = pytest.mark.skipif(
    not FOLDER, reason="VIDRAG_TEST_MINICPM_DIR is unset: build a tiny MiniCPM-V-4.5 with build_tiny_minicpm.py"
)
TOKENS = 12


def clips(count: int, seed: int = 0, frames: int = 30, seconds: float = 10.0) -> list[ClipFrames]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        start = seconds * i
        times = [start + (k + 0.5) * seconds / frames for k in range(frames)]
        tint = rng.integers(0, 256, 3, dtype=np.uint8)  # each clip its own colour, plus noise
        pixels = [(rng.integers(0, 64, (126, 224, 3)) + tint).clip(0, 255).astype(np.uint8) for _ in times]
        out.append(ClipFrames("v", start, start + seconds, pixels, times))
    return out


@pytest.fixture(scope="module")
def loaded():
    import torch

    from vidrag.indexing.captioners.minicpm import load_minicpm

    torch.manual_seed(0)
    model, tokenizer, processor = load_minicpm(FOLDER, device=DEVICE)
    if DEVICE.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        model = model.float()
    return model, tokenizer, processor


def captioner(loaded, **options):
    from vidrag.indexing.captioners.minicpm import MiniCPMCaptioner

    options = {"device": DEVICE, "max_new_tokens": TOKENS, "max_side": 224, **options}
    cap = MiniCPMCaptioner(FOLDER, loader=lambda: loaded, **options)
    cap.min_new_tokens = TOKENS  # random weights: force the length so every answer is comparable
    return cap


def chat_captions(cap, items):
    prompt = caption_prompt()
    out = []
    for clip in items:
        prepared = cap.prepare(clip)
        out.append(cap._chat(cap._conversation(prepared, prompt), prepared.groups))
    return out


@pytest.mark.parametrize("cache", ["static", "dynamic"])
def test_staged_captions_equal_model_chat(loaded, cache):
    cap = captioner(loaded, batch=1, cache=cache, vision_attention="eager")
    items = clips(2)
    assert [c.raw for c in cap.caption(items)] == chat_captions(cap, items)
    assert cap.stats.steps == 2 * (TOKENS - 1)


@pytest.mark.parametrize("packing", [1, 3, 6])
def test_batched_equals_single(loaded, packing):
    items = clips(3, seed=packing)
    items[1] = clips(1, seed=9, frames=18, seconds=6.0)[0]  # another length: padding in the batch
    single = captioner(loaded, batch=1, packing=packing).caption(items)
    batched = captioner(loaded, batch=3, packing=packing).caption(items)
    assert [c.raw for c in batched] == [c.raw for c in single]
    assert len({c.raw for c in single}) == 3


@pytest.mark.parametrize("vision", ["sdpa", "compiled"])
def test_overlapped_vision_gives_the_same_captions(loaded, vision):
    """Three calls with the next call's vision pass on a second CUDA stream (beside this call's decoding,
    CUDA graphs captured meanwhile) caption as the calls taken in turn do; on CPU both take turns."""
    items = clips(5, seed=11)
    in_turn = captioner(loaded, batch=2, vision_attention=vision, overlap_vision=False).caption(items)
    overlapped = captioner(loaded, batch=2, vision_attention=vision, overlap_vision=True)
    assert [c.raw for c in overlapped.caption(items)] == [c.raw for c in in_turn]
    assert overlapped.stats.clips == 5
    assert len({c.raw for c in in_turn}) >= 3  # not one caption for all: the comparison means something


def test_sdpa_siglip_matches_eager_in_float32(loaded):
    """Every layer's output agrees to float32 rounding (relative 1e-5: the tiny random model's hidden
    states grow to ~600 over two layers and rounding grows with them); the post-LayerNorm features, ~4 in
    size, differ by at most ~5e-5."""
    import copy
    import types

    import torch

    from vidrag.indexing.captioners import minicpm_engine as engine

    vpm = loaded[0].vpm
    if next(vpm.parameters()).dtype != torch.float32:  # compare in float32 whatever the model was loaded in
        vpm = copy.deepcopy(vpm).float()
    model = types.SimpleNamespace(vpm=vpm, device=next(vpm.parameters()).device)
    torch.manual_seed(0)
    pixels = torch.randn(3, 3, 14, 14 * 64, device=model.device)
    sizes = torch.tensor([[8, 8], [8, 8], [5, 8]], dtype=torch.int32, device=model.device)
    mask = torch.ones((3, 1, 64), dtype=torch.bool, device=model.device)
    mask[2, 0, 40:] = False  # one padded image: the additive mask path
    with torch.inference_mode():
        eager = model.vpm(pixels, patch_attention_mask=mask, tgt_sizes=sizes, output_hidden_states=True)
        with engine.sdpa_vision(model):
            fused = model.vpm(pixels, patch_attention_mask=mask, tgt_sizes=sizes, output_hidden_states=True)
    assert "forward" not in vars(model.vpm.encoder.layers[0].self_attn)  # patch undone
    rel = [
        float((r - g)[:, :40].abs().max()) / float(r.abs().max())
        for r, g in zip(eager.hidden_states, fused.hidden_states)
    ]
    last = float((eager.last_hidden_state - fused.last_hidden_state)[:, :40].abs().max())
    bound = 1.0 if DEVICE == "cpu" else 10.0  # CUDA's fused kernels round differently from CPU's
    assert max(rel) <= 1e-5 * bound and last <= 1e-4 * bound, (rel, last)


@pytest.mark.parametrize("packing", [1, 3])
@pytest.mark.parametrize("sizes", ["one size", "two sizes"])
def test_vision_rows_equal_the_remote_codes_vision_pass(loaded, packing, sizes):
    """The engine's vision pass (frames grouped by size, position ids made on the host) gives the
    input embeddings the remote code's `get_vllm_embedding` computes from the pixels itself: bitwise
    when every frame has one size (the same SigLIP batches), to float32 rounding when a batch mixes
    sizes (the remote code pads the smaller frames and masks the padding)."""
    import torch

    from vidrag.indexing.captioners import minicpm_engine as engine

    model = loaded[0]
    cap = captioner(loaded, batch=3, packing=packing)
    items = clips(3, seed=5)
    if sizes == "two sizes":  # a portrait video's clip beside landscape ones: other patch grid
        rng = np.random.default_rng(1)
        items[1] = ClipFrames("p", 0.0, 6.0, [rng.integers(0, 255, (224, 140, 3), dtype=np.uint8) for _ in range(18)],
                              [(k + 0.5) / 3 for k in range(18)])  # fmt: skip
    batch = engine.merge([cap._encode(loaded, clip, caption_prompt()) for clip in items])
    assert len({tuple(s.tolist()) for t in batch.tgt_sizes for s in t}) == (2 if sizes == "two sizes" else 1)
    device = model.llm.model.embed_tokens.weight.device
    ours = engine.embed(model, batch, chunk_frames=256, vision_batch=16)
    data = {
        "input_ids": batch.input_ids.to(device), "image_bound": batch.image_bound,
        "pixel_values": [[p.to(device) for p in clip] for clip in batch.pixel_values],
        "tgt_sizes": [t.to(device) for t in batch.tgt_sizes], "temporal_ids": batch.temporal_ids,
    }  # fmt: skip
    model.config.vision_batch_size, before = 16, getattr(model.config, "vision_batch_size", 16)
    try:
        with torch.inference_mode(), engine.packed_batch_fix(model, batch.layout):
            theirs, _ = model.get_vllm_embedding(data)
    finally:
        model.config.vision_batch_size = before
    assert "forward" not in vars(model.vpm.embeddings)  # patch undone
    if sizes == "one size":
        assert torch.equal(ours, theirs)
    else:
        scale = float(theirs.abs().max())
        assert float((ours - theirs).abs().max()) <= 1e-5 * scale, float((ours - theirs).abs().max()) / scale
        assert not torch.equal(ours[1], ours[0])


def test_compiled_vision_matches_sdpa(loaded):
    """vision_attention='compiled' (each SigLIP layer through torch.compile) gives the input embeddings
    of the plain SDPA pass to float32 rounding, for two batch sizes (the second compiles again), and
    puts the model's own layers back afterwards."""

    from vidrag.indexing.captioners import minicpm_engine as engine

    model = loaded[0]
    cap = captioner(loaded, batch=3, vision_attention="compiled")
    layers = list(model.vpm.encoder.layers)
    for count in (3, 2):
        batch = engine.merge([cap._encode(loaded, clip, caption_prompt()) for clip in clips(count, seed=7)])
        with engine.sdpa_vision(model):
            plain = engine.embed(model, batch, chunk_frames=256, vision_batch=16)
        with engine.sdpa_vision(model, compiled=True):
            assert all(type(layer).__name__ == "OptimizedModule" for layer in model.vpm.encoder.layers)
            fused = engine.embed(model, batch, chunk_frames=256, vision_batch=16)
        scale = float(plain.abs().max())
        assert float((fused - plain).abs().max()) <= 1e-4 * scale, float((fused - plain).abs().max()) / scale
    assert list(model.vpm.encoder.layers) == layers
    assert not any("forward" in vars(layer.self_attn) for layer in layers)


def test_static_decoding_stops_like_generate(loaded):
    """Make a token the model emits mid-answer a terminator: both paths stop there, per clip."""
    model, tokenizer, _ = loaded
    items = clips(3, seed=4)
    free = captioner(loaded, batch=3, cache="static", max_new_tokens=TOKENS)
    free.min_new_tokens = 0
    first = free.caption(items)[0].raw
    stop = tokenizer.tokenize(first)[3]
    before = model.terminators
    model.terminators = [*before, stop]
    try:
        results = {}
        for cache in ("static", "dynamic"):
            cap = captioner(loaded, batch=3, cache=cache, max_new_tokens=TOKENS)
            cap.min_new_tokens = 0
            results[cache] = [c.raw for c in cap.caption(items)]
    finally:
        model.terminators = before
    assert results["static"] == results["dynamic"]
    assert len(results["static"][0]) < len(first)


def test_ask_goes_through_chat_with_history(loaded):
    model = loaded[0]
    calls = []
    original = model.chat

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    model.chat = spy
    try:
        cap = captioner(loaded, packing=2, max_frames=8)
        clip = clips(1, frames=8, seconds=2.0)[0]
        answer = cap.ask(clip, "And the colour?", history=[("What moves?", "A square.")])
    finally:
        del model.chat
    assert isinstance(answer, str) and answer
    (call,) = calls
    assert [m["role"] for m in call["msgs"]] == ["user", "assistant", "user"]
    assert call["msgs"][1]["content"] == "A square." and call["msgs"][2]["content"] == "And the colour?"
    assert [len(g) for g in call["temporal_ids"]] == [2] * 4


def test_ingest_a_sample_lecture_with_minicpm(tmp_path):
    from vidrag.samples.library import Segment, make_lecture

    video = tmp_path / "lecture.mp4"
    make_lecture(video, [Segment(title="Tides", narration="The moon pulls the ocean.", topic="tides")], size=(320, 180))
    env = {
        **os.environ, "VIDRAG_HOME": str(tmp_path / "home"), "VIDRAG_CAPTIONER": "minicpm",
        "VIDRAG_CAPTIONER_MODEL": FOLDER, "VIDRAG_CAPTIONER_DEVICE": DEVICE,
        "VIDRAG_CAPTIONER_MAX_NEW_TOKENS": "16", "HF_HUB_OFFLINE": "1",
    }  # fmt: skip
    root = Path(__file__).parents[2]
    run = subprocess.run([sys.executable, "-m", "vidrag.api.cli", "ingest", "--json", str(video)], env=env,
                         capture_output=True, text=True, cwd=root, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    (row,) = json.loads(run.stdout)["results"]
    assert row["status"] == "indexed" and row["clips"] >= 1
    found = subprocess.run([sys.executable, "-m", "vidrag.api.cli", "search", "--json", "moon ocean"], env=env,
                           capture_output=True, text=True, cwd=root, timeout=300)  # fmt: skip
    hits = json.loads(found.stdout)
    assert hits and hits[0]["caption"]  # a model caption was stored with the clip
