"""Time FramePack per section and measure peak GPU memory in each memory mode.

Runs the real HunyuanVideoFramepackPipeline code through `vidrag.tools.talking_head.run_motion`. By default
it uses the tiny random components (no weights needed: this measures the pipeline's own overheads,
the offload hooks and the VAE, not the 13B model); `--real` loads the downloaded FramePack weights
instead. Each mode gets a fresh pipeline, one warm-up call, then a timed call; peak memory is
`torch.cuda.max_memory_allocated` over the timed call. Prints a table and writes JSON.

    python benchmarks/bench_talking_head.py --sizes 64 512 --seconds 2.5 --json-out bench.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidrag.tools.talking_head.framepack import MEMORY_MODES, apply_memory_mode, load_framepack
from vidrag.tools.talking_head.pipeline import MotionSettings, run_motion
from vidrag.tools.talking_head.sections import plan_sections

GIB = 1024**3


def build(args: argparse.Namespace, mode: str):
    """A fresh pipeline placed in `mode`, and its prompt template."""
    import torch

    if args.real:
        return load_framepack(args.variant, device=args.device, memory_mode=mode), None
    from vidrag.tools.talking_head.tiny import TINY_PROMPT_TEMPLATE, tiny_pipeline

    pipe = tiny_pipeline(0).to(getattr(torch, args.dtype))
    return apply_memory_mode(pipe, mode, args.device, vae_tiling=not args.no_tiling), TINY_PROMPT_TEMPLATE


def measure(args: argparse.Namespace, mode: str, size: int) -> dict:
    """Warm up, then time one generation of `args.seconds` at size x size in `mode`."""
    import numpy as np
    import torch
    from PIL import Image

    torch.cuda.empty_cache()
    clock = time.perf_counter()
    pipe, template = build(args, mode)
    load_s = time.perf_counter() - clock
    portrait = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    settings = MotionSettings(seed=0, steps=args.steps, latent_window_size=args.window, fps=30.0)
    warm = plan_sections(1 / 30, 30.0, args.window)
    run_motion(pipe, portrait, size, size, warm, settings, prompt_template=template)
    plan = plan_sections(args.seconds, 30.0, args.window)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    frames, times = run_motion(pipe, portrait, size, size, plan, settings, prompt_template=template)
    row = {
        "mode": mode,
        "size": size,
        "dtype": args.dtype,
        "steps": args.steps,
        "window": args.window,
        "sections": plan.sections,
        "frames": int(frames.shape[0]),
        "load_s": round(load_s, 3),
        "motion_s": round(times["motion"], 4),
        "section_s": [round(x, 4) for x in times["sections"]],
        "mean_section_s": round(
            sum(times["sections"][1:] or times["sections"]) / max(1, len(times["sections"][1:] or times["sections"])), 4
        ),
        "final_decode_s": round(times["final_decode"], 4),
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 4),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 4),
    }
    del pipe
    gc.collect()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(MEMORY_MODES), choices=MEMORY_MODES)
    parser.add_argument("--sizes", nargs="+", type=int, default=[64], help="square sizes, multiples of 16")
    parser.add_argument("--seconds", type=float, default=2.5, help="video length to plan for")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--window", type=int, default=9)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--no-tiling", action="store_true")
    parser.add_argument("--real", action="store_true", help="use the downloaded FramePack weights")
    parser.add_argument("--variant", default="framepack")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import diffusers
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU: this benchmark measures GPU memory modes.")
    env = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "real_weights": args.real,
    }
    rows = [measure(args, mode, size) for size in args.sizes for mode in args.modes]
    print(json.dumps(env))
    print(f"{'mode':<18}{'size':>6}{'sect':>5}{'motion s':>10}{'mean sect s':>12}{'peak GiB':>10}  sections s")
    for r in rows:
        print(
            f"{r['mode']:<18}{r['size']:>6}{r['sections']:>5}{r['motion_s']:>10.3f}{r['mean_section_s']:>12.4f}"
            f"{r['peak_allocated_gib']:>10.4f}  {r['section_s']}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps({"env": env, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
