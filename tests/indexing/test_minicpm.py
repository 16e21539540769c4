"""MiniCPM-V-4.5 in-process captioner, up to `model.chat` (no weights or remote code here).

A recorder model checks exactly what `chat` receives. A fake that reproduces the remote code's
batched data flow (resampler: one row per group; split: by frame count) shows the documented
mis-assignment and that `packed_batch_fix` gives every clip its own features. The captioning
engine itself runs against the real remote code in test_minicpm_real.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import types

import numpy as np
import pytest
import torch
from PIL import Image

from vidrag.indexing.caption_prompt import caption_prompt, to_caption
from vidrag.indexing.captioners import make_captioner
from vidrag.indexing.captioners import minicpm_engine as engine
from vidrag.indexing.captioners.base import ClipFrames
from vidrag.indexing.captioners.minicpm import (
    MiniCPMCaptioner,
    check_torchvision,
    check_transformers,
    load_minicpm,
    packed_batch_fix,
    resolve_device,
    spread_group_rows,
)
from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing

Q, D = 4, 3  # queries per group and feature size of the fake resampler


def make_clip(start: float, end: float, decode_fps: float = 10.0, base: int = 0) -> ClipFrames:
    """Uniform-colour frames at `decode_fps`; frame k has value base + k (so groups are traceable)."""
    count = round((end - start) * decode_fps)
    times = [start + (k + 0.5) / decode_fps for k in range(count)]
    frames = [np.full((48, 64, 3), base + k, dtype=np.uint8) for k in range(count)]
    return ClipFrames(video_id="v1", start=start, end=end, frames=frames, times=times)


class Recorder:
    """Stands in for the remote-code model: records every chat call and answers a fixed caption."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def chat(self, **kwargs):
        self.calls.append(kwargs)
        answer = "PEOPLE: none\nACTIONS: a ball rolls\nSUMMARY: A ball rolls."
        return [answer] * len(kwargs["msgs"]) if isinstance(kwargs["msgs"][0], list) else answer


class FakeResampler:
    """One row block per temporal group: the mean of the group's frame values, Q x D."""

    def forward(self, x, tgt_sizes=None, temporal_ids=None):
        rows, start = [], 0
        for group in temporal_ids:
            rows.append(x[start : start + len(group)].mean(dim=0).expand(Q, D))
            start += len(group)
        return torch.stack(rows)

    def __call__(self, *args, **kwargs):  # like nn.Module: looks up self.forward at call time
        return self.forward(*args, **kwargs)


class FakeRemoteModel:
    """Reproduces the remote code's batched chat data flow, including its split by frame count."""

    def __init__(self) -> None:
        self.resampler = FakeResampler()

    def get_vllm_embedding(self, data):
        flat = [frame for conv in data["pixel_values"] for frame in conv]
        groups = [group for conv in data["temporal_ids"] for group in conv]
        out = self.resampler(torch.stack(flat), None, groups)
        hidden, start = [], 0
        for conv in data["pixel_values"]:  # the remote code's split: rows per conversation = frames
            hidden.append(out[start : start + len(conv)])
            start += len(conv)
        # the scatter fills only the image placeholders: groups x Q rows per conversation
        embeds = [h.reshape(-1, D)[: len(t) * Q] for h, t in zip(hidden, data["temporal_ids"])]
        return embeds, hidden

    def chat(self, msgs, tokenizer=None, processor=None, temporal_ids=None, **kwargs):
        batched = isinstance(msgs[0], list)
        convs, tids = (msgs, temporal_ids) if batched else ([msgs], [temporal_ids])
        pixel_values = [
            [torch.full((D,), float(np.asarray(c).mean())) for c in conv[0]["content"] if isinstance(c, Image.Image)]
            for conv in convs
        ]
        embeds, _ = self.get_vllm_embedding({"pixel_values": pixel_values, "temporal_ids": tids})
        answers = []
        for embed, groups in zip(embeds, tids):
            values = [f"{row[0]:.2f}" for row in embed[::Q]]
            answers.append(f"SUMMARY: {len(groups)} groups {' '.join(values)}")
        return answers if batched else answers[0]


def captioner_with(model, **options) -> MiniCPMCaptioner:
    return MiniCPMCaptioner(loader=lambda: (model, "TOKENIZER", "PROCESSOR"), **options)


def test_chat_receives_frames_temporal_ids_and_greedy_kwargs():
    recorder = Recorder()
    cap = captioner_with(recorder, fps=3, packing=3, max_new_tokens=200)
    clip = make_clip(100.0, 110.0)  # cut from the middle of a long video, decoded at 10 fps
    prepared = cap.prepare(clip)

    caption = to_caption(cap._chat(cap._conversation(prepared, caption_prompt()), prepared.groups))

    (call,) = recorder.calls
    content = call["msgs"][0]["content"]
    frames = [c for c in content if isinstance(c, Image.Image)]
    assert len(call["msgs"]) == 1 and call["msgs"][0]["role"] == "user"
    assert len(frames) == 30 and isinstance(content[-1], str) and "ON-SCREEN TEXT:" in content[-1]
    # bin centres 100 + (i + .5)/3 s -> nearest 10 fps frames -> ids in 0.1 s from the clip start
    expected = [round((100 + (i + 0.5) / 3 - 100) * 10) for i in range(30)]
    flat = [t for group in call["temporal_ids"] for t in group]
    assert all(abs(a - b) <= 1 for a, b in zip(flat, expected)) and len(flat) == 30
    assert [len(g) for g in call["temporal_ids"]] == [3] * 10
    assert call["tokenizer"] == "TOKENIZER" and call["processor"] == "PROCESSOR"
    options = ("use_image_id", "max_slice_nums", "enable_thinking", "sampling", "do_sample", "max_new_tokens")
    assert {k: call[k] for k in options} == {
        "use_image_id": False, "max_slice_nums": 1, "enable_thinking": False,
        "sampling": True, "do_sample": False, "max_new_tokens": 200,
    }  # fmt: skip
    assert caption.fields["actions"] == "a ball rolls" and caption.raw.startswith("PEOPLE")


def test_frames_are_shrunk_and_capped():
    clip = make_clip(0.0, 60.0, decode_fps=2.0)
    clip.frames = [np.zeros((1080, 1920, 3), np.uint8)] * len(clip.frames)
    prepared = captioner_with(Recorder(), fps=3, packing=6, max_frames=24).prepare(clip)
    frames = prepared.frames
    assert len(frames) == 24 and max(frames[0].size) <= 448
    assert frames[0].size[0] * frames[0].size[1] <= 448 * 448
    assert [len(g) for g in prepared.groups] == [6] * 4


def test_model_is_loaded_once_and_freed_on_close():
    loads = []

    def loader():
        loads.append(1)
        return Recorder(), None, None

    cap = MiniCPMCaptioner(loader=loader)
    cap.ask(make_clip(0, 2), "what rolls?")
    cap.ask(make_clip(2, 4), "what rolls?")
    assert len(loads) == 1 and cap.describe()["loaded"] is True
    cap.close()
    assert cap.describe()["loaded"] is False
    cap.ask(make_clip(0, 2), "what rolls?")
    assert len(loads) == 2


def test_the_remote_codes_batched_split_misassigns_packed_clips():
    """The fake reproduces the documented bug: batched + packed gives clip 2 wrong features."""
    model = FakeRemoteModel()
    cap = captioner_with(model, fps=3, packing=3)
    clips = [make_clip(0, 4, base=10), make_clip(4, 8, base=100)]
    prepared = [cap.prepare(c) for c in clips]
    msgs = [cap._conversation(p, "describe") for p in prepared]

    singles = [model.chat(msgs=m, temporal_ids=p.groups) for m, p in zip(msgs, prepared)]
    raw_batched = model.chat(msgs=msgs, temporal_ids=[p.groups for p in prepared])

    assert raw_batched[0] == singles[0]
    assert raw_batched[1] != singles[1]  # the second clip got the first clip's rows


@pytest.mark.parametrize("packing", [1, 2, 3, 6])
def test_packed_batch_fix_gives_each_clip_its_own_features(packing):
    model = FakeRemoteModel()
    cap = captioner_with(model, fps=3, packing=packing)
    clips = [make_clip(0, 4, base=10), make_clip(4, 6, base=100), make_clip(6, 11, base=200)]
    prepared = [cap.prepare(c) for c in clips]
    msgs = [cap._conversation(p, "describe") for p in prepared]
    single = [model.chat(msgs=m, temporal_ids=p.groups) for m, p in zip(msgs, prepared)]
    with packed_batch_fix(model, [(len(p.frames), len(p.groups)) for p in prepared]):
        batched = model.chat(msgs=msgs, temporal_ids=[p.groups for p in prepared])
    assert batched == single and len(set(single)) == 3
    assert "resampler" in vars(model) and "forward" not in vars(model.resampler)  # patch removed
    assert "get_vllm_embedding" not in vars(model)


def test_spread_group_rows_lays_groups_out_by_frame_count():
    features = torch.arange(5, dtype=torch.float32).reshape(5, 1, 1) + 1
    out = spread_group_rows(features, [(6, 2), (6, 3)])
    assert out.shape == (12, 1, 1)
    assert out[:, 0, 0].tolist() == [1, 2, 0, 0, 0, 0, 3, 4, 5, 0, 0, 0]
    with pytest.raises(BackendUnavailable, match="batch=1"):
        spread_group_rows(features, [(6, 2), (6, 2)])


def test_packed_batch_fix_refuses_an_unexpected_split():
    class SplitByGroups(FakeRemoteModel):
        def get_vllm_embedding(self, data):
            embeds, hidden = super().get_vllm_embedding(data)
            return embeds, [h[: len(t)] for h, t in zip(hidden, data["temporal_ids"])]

    model = SplitByGroups()
    cap = captioner_with(model, fps=3, packing=3)
    prepared = [cap.prepare(c) for c in (make_clip(0, 4), make_clip(4, 8))]
    msgs = [cap._conversation(p, "describe") for p in prepared]
    with pytest.raises(BackendUnavailable, match="batching changed"):
        with packed_batch_fix(model, [(len(p.frames), len(p.groups)) for p in prepared]):
            model.chat(msgs=msgs, temporal_ids=[p.groups for p in prepared])
    with packed_batch_fix(model, [(3, 3)]):  # unpacked: nothing to patch
        assert "forward" not in vars(model.resampler)


def test_ask_uses_all_given_frames_and_keeps_history():
    recorder = Recorder()
    cap = captioner_with(recorder, fps=1, packing=2, max_frames=16)
    clip = make_clip(30.0, 31.0, decode_fps=8.0)  # re-decoded at a higher rate by the caller
    cap.ask(clip, "Is the ball red?", history=[("What rolls?", "A ball.")])
    msgs = recorder.calls[0]["msgs"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert sum(isinstance(c, Image.Image) for c in msgs[0]["content"]) == 8
    assert "What rolls?" in msgs[0]["content"][-1] and "30.0 s to 31.0 s" in msgs[0]["content"][-1]
    assert msgs[1]["content"] == "A ball." and msgs[2]["content"] == "Is the ball red?"
    assert [len(g) for g in recorder.calls[0]["temporal_ids"]] == [2] * 4
    with pytest.raises(InputError):
        cap.ask(clip, "  ")


def test_bad_options_and_clips_are_input_errors():
    with pytest.raises(InputError, match="1 to 6"):
        MiniCPMCaptioner(packing=7)
    with pytest.raises(InputError, match="fps"):
        MiniCPMCaptioner(fps=12)
    with pytest.raises(InputError, match="attn_implementation"):
        MiniCPMCaptioner(attn_implementation="eager")
    empty = ClipFrames(video_id="v", start=0, end=1, frames=[], times=[])
    with pytest.raises(InputError, match="frames"):
        captioner_with(Recorder()).caption([empty])


def test_registry_builds_it_lazily_without_loading():
    cap = make_captioner("minicpm", model="openbmb/MiniCPM-V-4_5-int4", packing=4)
    assert cap.describe()["model"] == "openbmb/MiniCPM-V-4_5-int4" and cap.describe()["loaded"] is False


def test_missing_weights_name_the_model_and_the_download_command(tmp_path):
    with pytest.raises(ModelMissing) as err:
        MiniCPMCaptioner(cache_dir=str(tmp_path)).caption([make_clip(0, 1)])
    assert "openbmb/MiniCPM-V-4_5" in str(err.value)
    assert "vidrag models download minicpm-v-4.5" in str(err.value)
    with pytest.raises(ModelMissing, match="--variant awq"):
        load_minicpm("openbmb/MiniCPM-V-4_5-AWQ", cache_dir=str(tmp_path))


def test_torchvision_missing_names_the_extra_on_a_gpu_and_is_stood_in_on_cpu(monkeypatch):
    import sys

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torchvision" else real(n, *a))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    with pytest.raises(BackendUnavailable, match=r"vidrag\[minicpm\]"):
        check_torchvision("cuda")
    check_torchvision("cpu")
    assert sys.modules["torchvision"].__version__.endswith("vidrag-stand-in")
    monkeypatch.delitem(sys.modules, "torchvision")


def test_a_broken_torchvision_is_reported_with_the_fix(monkeypatch):
    import builtins
    import sys

    real_find, real_import = importlib.util.find_spec, builtins.__import__
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == "torchvision" else real_find(n, *a))

    def broken(name, *args, **kwargs):
        if name == "torchvision":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(BackendUnavailable, match="nms does not exist.*whl/cpu"):
        check_torchvision("cpu")


def test_transformers_versions():
    check_transformers("4.57.6")
    for bad in ("5.24.0", "5.0.0.dev0", "4.40.2"):
        with pytest.raises(BackendUnavailable, match="transformers==4.57.6"):
            check_transformers(bad)


def test_device_defaults_to_cuda_and_cpu_is_explicit(caplog):
    class NoCuda:
        class cuda:
            @staticmethod
            def is_available():
                return False

    with pytest.raises(BackendUnavailable, match="VIDRAG_CAPTIONER_DEVICE=cpu"):
        resolve_device(NoCuda)
    with pytest.raises(BackendUnavailable, match="no CUDA"):
        resolve_device(NoCuda, "cuda:0")
    assert resolve_device(NoCuda, "cpu") == "cpu"
    assert "minutes per clip" in caplog.text


@pytest.mark.slow  # a vidrag process that imports torch
def test_check_fails_before_loading_and_ingest_exits_3(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    with pytest.raises(ModelMissing):
        MiniCPMCaptioner(model=str(tmp_path / "nothing-here")).check()
    captioner_with(Recorder()).check()  # an injected loader is not second-guessed
    video = tmp_path / "a.mp4"
    video.write_bytes(b"not read")
    env = {**os.environ, "VIDRAG_HOME": str(tmp_path / "home"), "VIDRAG_CAPTIONER": "minicpm",
           "VIDRAG_CAPTIONER_MODEL": str(tmp_path / "nothing-here"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "vidrag.api.cli", "ingest", str(video)], env=env, capture_output=True,
                         text=True, cwd=Path(__file__).parents[2], timeout=300)  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("error:") == 1 and "nothing-here" in run.stderr and "WARNING" not in run.stderr
    assert "failed" not in run.stdout


def test_a_failed_torch_compile_names_the_setting_and_the_fix(monkeypatch):
    class BackendCompilerFailed(Exception):  # as torch._dynamo raises when inductor cannot build
        __module__ = "torch._dynamo.exc"

    def fail(*args, **kwargs):
        raise BackendCompilerFailed("backend='inductor' raised:\nInvalidCxxCompiler: No working C++ compiler found")

    monkeypatch.setattr(engine, "merge", lambda items: items)
    monkeypatch.setattr(engine, "embed", fail)
    with pytest.raises(BackendUnavailable, match="VIDRAG_CAPTIONER_VISION=compiled") as raised:
        captioner_with(Recorder(), vision_attention="compiled")._vision(None, [])
    assert "InvalidCxxCompiler: No working C++ compiler" in str(raised.value)
    assert "set VIDRAG_CAPTIONER_VISION=sdpa" in str(raised.value)
    with pytest.raises(BackendCompilerFailed):  # not compiling: the error is not about compiling
        captioner_with(Recorder(), vision_attention="sdpa")._vision(None, [])


class LoopModel:
    """Stands in for the model in `caption`'s loop: the vision pass and the decoding log when they
    start and end (no GPU work: the loop's order and overlap is what is checked)."""

    def __init__(self) -> None:
        self.llm = types.SimpleNamespace(device=types.SimpleNamespace(type="cuda"))
        self.events: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.vision_started = [threading.Event() for _ in range(3)]

    def log(self, what: str, call: int) -> None:
        with self.lock:
            self.events.append((what, call))

    def _decode_text(self, tokens, tokenizer):
        return [f"SUMMARY: clip at {start:.0f} s." for start in tokens]


@pytest.mark.parametrize("overlap", [False, True])
def test_the_next_calls_vision_pass_runs_beside_this_calls_decoding(monkeypatch, overlap):
    model = LoopModel()
    waited = []

    def embed(model_, batch, chunk_frames, vision_batch):
        model.log("vision starts", batch.call)
        model.vision_started[batch.call].set()
        model.log("vision ends", batch.call)
        return batch

    def generate(model_, tokenizer, embeds, attention_mask, **options):
        model.log("decoding starts", embeds.call)
        if overlap and embeds.call < 2:  # the next call's vision pass must start while this one decodes
            waited.append(model.vision_started[embeds.call + 1].wait(timeout=30))
        model.log("decoding ends", embeds.call)
        return embeds.starts

    def merge(items):
        starts = list(items)
        return types.SimpleNamespace(
            call=int(starts[0] // 20), starts=starts, layout=[(1, 1)] * len(starts),
            attention_mask=torch.ones(len(starts), 4), is_cuda=False,
        )  # fmt: skip

    monkeypatch.setattr(engine, "embed", embed)
    monkeypatch.setattr(engine, "generate_static", generate)
    monkeypatch.setattr(engine, "merge", merge)
    monkeypatch.setattr(torch.cuda, "Stream", lambda *args, **kwargs: None)  # CPU torch: no streams here
    cap = captioner_with(model, batch=2, overlap_vision=overlap)
    monkeypatch.setattr(cap, "_encode", lambda loaded, clip, prompt: clip.start)
    clips = [make_clip(10.0 * i, 10.0 * i + 10.0) for i in range(5)]  # calls of 2, 2 and 1 clips

    captions = cap.caption(clips)

    assert [c.raw for c in captions] == [f"SUMMARY: clip at {10 * i} s." for i in range(5)]
    assert cap.stats.clips == 5
    when = {event: index for index, event in enumerate(model.events)}
    for call in range(2):  # the next call's vision starts before this call's decoding ends, or after it
        assert (when["vision starts", call + 1] < when["decoding ends", call]) == overlap
        assert when["vision ends", call] < when["decoding starts", call]
    assert waited == ([True, True] if overlap else [])


def test_auto_vision_compiles_on_a_gpu_and_falls_back_to_sdpa_when_compiling_fails(monkeypatch, caplog):
    class BackendCompilerFailed(Exception):  # as torch._dynamo raises when inductor cannot build
        __module__ = "torch._dynamo.exc"

    model, modes = LoopModel(), []

    @contextlib.contextmanager
    def sdpa_vision(model_, enabled=True, compiled=False):
        modes.append("compiled" if compiled else "sdpa" if enabled else "eager")
        yield

    def embed(model_, batch, chunk_frames, vision_batch):
        if modes[-1] == "compiled":
            raise BackendCompilerFailed("InvalidCxxCompiler: No working C++ compiler found")
        return batch

    def merge(items):
        starts = list(items)
        mask = torch.ones(len(starts), 4)
        return types.SimpleNamespace(
            call=0, starts=starts, layout=[(1, 1)] * len(starts), attention_mask=mask, is_cuda=False
        )

    monkeypatch.setattr(engine, "sdpa_vision", sdpa_vision)
    monkeypatch.setattr(engine, "embed", embed)
    monkeypatch.setattr(engine, "generate_static", lambda model_, tok, embeds, mask, **options: embeds.starts)
    monkeypatch.setattr(engine, "merge", merge)
    cap = captioner_with(model, batch=2)  # vision_attention "auto" by default
    monkeypatch.setattr(cap, "_encode", lambda loaded, clip, prompt: clip.start)
    clips = [make_clip(10.0 * i, 10.0 * i + 10.0) for i in range(3)]

    with caplog.at_level("WARNING"):
        first = cap.caption(clips)
    second = cap.caption(clips)

    assert [c.raw for c in first] == [c.raw for c in second] == [f"SUMMARY: clip at {10 * i} s." for i in range(3)]
    assert modes[0] == "compiled" and set(modes[1:]) == {"sdpa"}  # tried once, then plain SDPA for good
    assert "No working C++ compiler" in caplog.text and "VIDRAG_CAPTIONER_VISION=sdpa" in caplog.text
    model.llm.device.type = "cpu"
    modes.clear()
    cpu = captioner_with(model, batch=2)
    monkeypatch.setattr(cpu, "_encode", lambda loaded, clip, prompt: clip.start)
    cpu.caption(clips[:1])
    assert modes == ["sdpa"]  # on a CPU 'auto' does not compile
