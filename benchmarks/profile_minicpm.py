"""Where one MiniCPM-V-4.5 caption call spends its time on the GPU: `torch.profiler` tables.

Builds the full-size model with random weights (as `bench_minicpm.py --random-weights`), times two
`caption()` calls of `--clips` synthetic clips, then profiles a third and prints the operators by GPU
time and by host time (host syncs from `.item()` show up as `cudaStreamSynchronize`).

    python benchmarks/profile_minicpm.py --model DIR [--clips 32] [--tokens 8] [--packing 3]

DIR holds config.json, the remote-code .py files and the tokenizer. Needs a CUDA GPU, torch,
transformers==4.57.x and accelerate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--packing", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--rows", type=int, default=30)
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from benchmarks import bench_minicpm as bench

    loaded = bench.build_random(args.model, "sdpa")
    print(f"model built: {torch.cuda.memory_allocated() / 2**30:.1f} GiB", flush=True)
    captioner = bench.make_captioner(args, loaded, bench.parse_config(f"{args.clips}:{args.tokens}:sdpa:static:8:64"))
    size = (args.width, args.height)
    clips = bench.synthetic_clips(args.clips, args.frames, size, args.clip_seconds)
    captioner.caption(bench.synthetic_clips(8, args.frames, size, args.clip_seconds, seed=1))
    for rep in range(2):
        captioner.stats = type(captioner.stats)()
        started = time.perf_counter()
        captioner.caption(clips)
        torch.cuda.synchronize()
        stats = captioner.stats
        print(json.dumps({"call": rep, "wall_s": round(time.perf_counter() - started, 2),
                          "vision_s": round(stats.embed_s, 2), "prefill_s": round(stats.prefill_s, 2),
                          "decode_s": round(stats.decode_s, 2)}), flush=True)  # fmt: skip
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        captioner.caption(clips)
        torch.cuda.synchronize()
    averages = prof.key_averages()
    print(averages.table(sort_by="cuda_time_total", row_limit=args.rows), flush=True)
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows), flush=True)


if __name__ == "__main__":
    main()
