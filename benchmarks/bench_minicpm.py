"""GPU benchmark of MiniCPM-V-4.5 clip captioning: in process (vidrag's batching) or through vLLM.

In-process mode drives `indexing.captioners.minicpm.MiniCPMCaptioner` (so it measures vidrag's
own path, packed batching fix included) over synthetic clips of `--frames` frames at `--size`²
covering `--clip-seconds` each, for every packing size x clips-per-call combination. Each setting
gets one warm-up call, then `--repeats` timed calls; it reports the median seconds per call,
video-seconds captioned per second, input tokens per clip (the LLM prompt length, read at
`model.llm.generate`) and peak GPU memory (`torch.cuda.max_memory_allocated`).

Without weights (`--random-weights`, or automatically when none are cached) it builds the
full-size model from the real config and remote code with random weights: compute does not
depend on weight values, so timings hold (captions are gibberish; `--new-tokens` are forced with
`min_new_tokens`). That needs the config, code and tokenizer files locally or hub access.
`--check-batching` also compares batched against one-clip-per-call answers.

Server mode (`--server URL`) times `OpenAICaptioner` against a running `vllm serve`.

    python benchmarks/bench_minicpm.py --packing 1 3 6 --clips-per-call 1 8 16 --json-out minicpm.json
    python benchmarks/bench_minicpm.py --server http://localhost:8000/v1 --clips 64 --concurrency 16

Needs a CUDA GPU, torch, transformers==4.57.x, torchvision, accelerate (server mode: only httpx).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing.captioners.base import ClipFrames  # noqa: E402
from indexing.captioners.minicpm import MiniCPMCaptioner, check_transformers, load_minicpm  # noqa: E402
from indexing.captioners.openai_server import OpenAICaptioner  # noqa: E402
from indexing.model_registry import local_snapshot  # noqa: E402

GIB = 1024**3


def synthetic_clips(count: int, frames: int, size: int, seconds: float, seed: int = 0) -> list[ClipFrames]:
    """`count` clips of random RGB frames at bin-centre times, each clip its own span."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        start = 60.0 + i * seconds
        times = [start + (k + 0.5) * seconds / frames for k in range(frames)]
        pixels = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(frames)]
        clips.append(ClipFrames(f"bench{i}", start, start + seconds, pixels, times))
    return clips


def build_random(model_id: str, attn: str) -> tuple[Any, Any, Any]:
    """Full-size model from the real config and remote code, random bf16 weights, on CUDA."""
    import torch
    import transformers

    check_transformers(transformers.__version__)
    config = transformers.AutoConfig.from_pretrained(model_id, trust_remote_code=True)
    config._attn_implementation = attn
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = transformers.AutoModel.from_config(config, trust_remote_code=True, attn_implementation=attn)
    torch.set_default_dtype(torch.float32)
    model = model.to("cuda").eval()  # buffers built from numpy on CPU follow; dtypes kept
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_id, trust_remote_code=True)
    processor = transformers.AutoProcessor.from_pretrained(model_id, trust_remote_code=True)
    return model, tokenizer, processor


class BenchCaptioner(MiniCPMCaptioner):
    """The real captioner with a fixed number of new tokens per answer."""

    def chat_kwargs(self) -> dict[str, Any]:
        return super().chat_kwargs() | {"min_new_tokens": self.max_new_tokens}


def record_prompt_lengths(model: Any) -> list[int]:
    """Patch `model.llm.generate` to record the prompt length of every call."""
    lengths: list[int] = []
    original = model.llm.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        lengths.append(int(kwargs["inputs_embeds"].shape[1]))
        return original(*args, **kwargs)

    model.llm.generate = generate
    return lengths


def run_inprocess(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    random = args.random_weights or local_snapshot(args.model) is None
    loaded = build_random(args.model, args.attn) if random else load_minicpm(args.model, attn_implementation=args.attn)
    lengths = record_prompt_lengths(loaded[0])
    rows = []
    for packing in args.packing:
        for per_call in args.clips_per_call:
            cap = BenchCaptioner(
                args.model, fps=args.frames / args.clip_seconds, packing=packing, batch=per_call,
                max_frames=args.frames, max_side=args.size, max_new_tokens=args.new_tokens, loader=lambda: loaded,
            )  # fmt: skip
            clips = synthetic_clips(per_call, args.frames, args.size, args.clip_seconds)
            cap.caption(clips)  # warm-up
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                cap.caption(clips)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - started)
            seconds = statistics.median(times)
            rows.append({
                "packing": packing, "clips_per_call": per_call, "frames_per_clip": args.frames,
                "input_tokens_per_clip": lengths[-1], "s_per_call": round(seconds, 3),
                "video_s_per_s": round(per_call * args.clip_seconds / seconds, 2),
                "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 2), "random_weights": random,
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
            if args.check_batching and per_call > 1:
                single = BenchCaptioner(
                    args.model, fps=args.frames / args.clip_seconds, packing=packing, batch=1,
                    max_frames=args.frames, max_side=args.size, max_new_tokens=args.new_tokens, loader=lambda: loaded,
                ).caption(clips)  # fmt: skip
                same = sum(a.raw == b.raw for a, b in zip(cap.caption(clips), single))
                rows[-1]["batched_equals_single"] = f"{same}/{per_call}"
                print(f"  batched == single for {same}/{per_call} clips", flush=True)
    return rows


def run_server(args: argparse.Namespace) -> list[dict[str, Any]]:
    cap = OpenAICaptioner(
        args.server, args.model, fps=args.frames / args.clip_seconds, max_frames=args.frames,
        max_side=args.size, max_tokens=args.new_tokens, concurrency=args.concurrency,
    )  # fmt: skip
    clips = synthetic_clips(args.clips, args.frames, args.size, args.clip_seconds)
    cap.caption(clips[: args.concurrency])  # warm-up
    before = dict(cap.stats)
    started = time.perf_counter()
    cap.caption(clips)
    seconds = time.perf_counter() - started
    prompt_tokens = cap.stats["prompt_tokens"] - before["prompt_tokens"]
    row = {
        "server": args.server, "clips": args.clips, "concurrency": args.concurrency,
        "frames_per_clip": args.frames, "seconds": round(seconds, 2),
        "video_s_per_s": round(args.clips * args.clip_seconds / seconds, 2),
        "input_tokens_per_clip": round(prompt_tokens / args.clips),
    }  # fmt: skip
    print(json.dumps(row), flush=True)
    return [row]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="openbmb/MiniCPM-V-4_5")
    parser.add_argument("--random-weights", action="store_true", help="build from config even if weights exist")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "flash_attention_2"])
    parser.add_argument("--packing", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--clips-per-call", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--frames", type=int, default=30, help="frames per clip")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check-batching", action="store_true")
    parser.add_argument("--server", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    parser.add_argument("--clips", type=int, default=64, help="server mode: clips to caption")
    parser.add_argument("--concurrency", type=int, default=16, help="server mode: requests in flight")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    rows = run_server(args) if args.server else run_inprocess(args)
    header = list(rows[0])
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
