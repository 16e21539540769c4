"""Time FramePack per section and measure peak GPU memory in each memory mode.

Runs the real HunyuanVideoFramepackPipeline code through `vidrag.tools.talking_head.run_motion`. By default
it uses the tiny random components (no weights needed: this measures the pipeline's own overheads,
the offload hooks and the VAE, not the 13B model); `--real` loads the downloaded FramePack weights;
`--full-size-random` builds every component at its published size with random bf16 weights directly
on the GPU (`tools/talking_head/full.py`) and times the architecture: speed and memory only, the
video is noise. Tiny/real: each mode gets a fresh pipeline, one warm-up call, then a timed call.

Full size: each case (a memory mode with speed levers) runs in its own process, so peak GPU memory
and peak host RSS are its own. A case builds the pipeline through `load_framepack(random_weights=True)`,
runs a one-step warm-up (compilation lands there), then times `--sections` sections of `--steps`
steps. From the synchronised per-step times it takes the median step (steps after a section's first)
and the per-section overhead (text/image encoding, the VAE decode, offload transfers), and
extrapolates to FramePack's 25 steps and a `--seconds` script: seconds per section, seconds per
second of video, seconds of 30-fps video per GPU-minute. Cutting steps changes nothing per step:
each step runs the same transformer on the same shapes. A first-block cache is timed with a threshold
so high that every step after a section's first reuses the cache: that is the cost of a cached step,
and the table gives the time for a given share of cached steps (how many a real model skips depends
on its weights; random weights say nothing about it).

    python benchmarks/bench_talking_head.py --sizes 64 512 --seconds 2.5 --json-out bench.json
    python benchmarks/bench_talking_head.py --full-size-random --json-out full.json
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidrag.tools.talking_head.framepack import MEMORY_MODES, SpeedLevers, apply_memory_mode, load_framepack
from vidrag.tools.talking_head.pipeline import MAX_PART_SECTIONS, MotionSettings, run_motion
from vidrag.tools.talking_head.sections import plan_sections

GIB = 1024**3
FRAMES_PER_SECTION = 36
"""Frames each section adds at latent window 9 (1.2 s at 30 fps)."""

# (case name, memory mode, fp8 storage, compile, measurements in order); a measurement is
# (label, VAE tiling, first-block cache threshold or None). Ordered by how much the table needs them.
FULL_CASES: list[tuple[str, str, bool, bool, list[tuple[str, bool, float | None]]]] = [
    ("none", "none", False, False, [("none", True, None), ("none, no tiling", False, None), ("none + FBC", True, 1e9)]),
    ("group", "group_offload", False, False, [("group_offload", True, None)]),
    ("model", "model_cpu_offload", False, False, [("model_cpu_offload", True, None)]),
    ("group-fp8", "group_offload", True, False, [("group_offload + fp8", True, None)]),
    ("none-fp8", "none", True, False, [("none + fp8", True, None), ("none + fp8 + FBC", True, 1e9)]),
    ("none-compile", "none", False, True, [("none + compile", True, None), ("none + compile + FBC", True, 1e9)]),
]


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


def rss_gib() -> tuple[float, float]:
    """(current, peak) resident host memory of this process, GiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
    with open("/proc/self/statm", encoding="ascii") as handle:
        current = int(handle.read().split()[1]) * resource.getpagesize() / GIB
    return current, peak


def summarize(times: dict, steps: int, sections: int, target_steps: int, seconds: float) -> dict:
    """Per-step and per-section figures from one timed run, extrapolated to `target_steps` steps."""
    per_section = [times["steps"][i * steps : (i + 1) * steps] for i in range(sections)]
    inner = [s for chunk in per_section for s in chunk[1:]]
    step_s = statistics.median(inner) if inner else statistics.median(times["steps"])
    first_overhead = per_section[0][0] - step_s
    later_overheads = [chunk[0] - step_s for chunk in per_section[1:]]
    overhead_s = statistics.mean(later_overheads) if later_overheads else first_overhead
    section_s = overhead_s + target_steps * step_s
    script_sections = plan_sections(seconds, 30.0, 9).sections
    total_s = first_overhead + target_steps * step_s + (script_sections - 1) * section_s + times["final_decode"]
    return {
        "step_s": round(step_s, 4),
        "first_section_overhead_s": round(first_overhead, 3),
        "section_overhead_s": round(overhead_s, 3),
        "final_decode_s": round(times["final_decode"], 3),
        "section_s_25": round(section_s, 2),
        "s_per_video_s": round(section_s / (FRAMES_PER_SECTION / 30.0), 2),
        "script_s": seconds,
        "script_sections": script_sections,
        "script_total_s": round(total_s, 1),
        "video_s_per_gpu_min": round(60.0 * seconds / total_s, 2),
    }


def run_case(args: argparse.Namespace, name: str) -> list[dict]:
    """One full-size case in this process: build, warm up, time each of its measurements."""
    import numpy as np
    import torch
    from PIL import Image

    _case, mode, fp8, compiled, measurements = next(c for c in FULL_CASES if c[0] == name)
    size = args.sizes[0]
    levers = SpeedLevers(fp8_storage=fp8, compile=compiled)
    clock = time.perf_counter()
    pipe = load_framepack(
        device=args.device, memory_mode=mode, random_weights=True, levers=levers, allow_cpu=args.device == "cpu"
    )
    torch.cuda.synchronize()
    load_s = time.perf_counter() - clock
    portrait = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    plan = plan_sections(args.sections * FRAMES_PER_SECTION / 30.0, 30.0, 9)
    rows = []
    for label, tiling, fbc in [] if args.parts_only else measurements:
        if tiling:
            pipe.vae.enable_tiling()
        else:
            pipe.vae.disable_tiling()
        if getattr(pipe.transformer, "is_cache_enabled", False):
            pipe.transformer.disable_cache()
        if fbc is not None:
            from diffusers import FirstBlockCacheConfig

            pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=fbc))
        clock = time.perf_counter()
        warm_settings = MotionSettings(seed=0, steps=1, guidance_scale=10.0)
        run_motion(pipe, portrait, size, size, plan_sections(1 / 30, 30.0, 9), warm_settings)
        warm_s = time.perf_counter() - clock
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        settings = MotionSettings(seed=0, steps=args.steps, guidance_scale=10.0)
        frames, times = run_motion(pipe, portrait, size, size, plan, settings)
        current, peak = rss_gib()
        row = {
            "case": label,
            "mode": mode,
            "levers": {**levers.describe(), **({"first_block_cache": "always after step 1"} if fbc else {})},
            "vae_tiling": tiling,
            "size": size,
            "timed_sections": plan.sections,
            "timed_steps": args.steps,
            "frames": int(frames.shape[0]),
            "build_s": round(load_s, 1),
            "warmup_s": round(warm_s, 1),
            "motion_s": round(times["motion"], 2),
            "steps_s": [round(x, 3) for x in times["steps"]],
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / GIB, 2),
            "peak_gpu_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2),
            "host_rss_gib": round(current, 1),
            "peak_host_rss_gib": round(peak, 1),
            **summarize(times, args.steps, plan.sections, 25, args.seconds),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.parts_check:
        rows += parts_check(pipe, portrait, size, args.parts_check, label=measurements[0][0])
    return rows


def parts_check(pipe, portrait, size: int, sections: int, label: str = "") -> list[dict]:
    """Peak GPU memory of a `sections`-long script in one call and in parts of <= MAX_PART_SECTIONS (1 step)."""
    import torch

    plan = plan_sections(sections * FRAMES_PER_SECTION / 30.0, 30.0, 9)
    rows = []
    for per_part in (sections, min(sections - 1, MAX_PART_SECTIONS)):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        frames, times = run_motion(
            pipe, portrait, size, size, plan, MotionSettings(steps=1), max_part_sections=per_part
        )
        row = {
            "case": f"{label} parts: {sections} sections, <= {per_part} per call",
            "sections": plan.sections,
            "parts": times["parts"],
            "frames": int(frames.shape[0]),
            "motion_s": round(times["motion"], 2),
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / GIB, 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def full_size(args: argparse.Namespace) -> list[dict]:
    """Run each full-size case in a child process, within `--budget` seconds in all."""
    started = time.perf_counter()
    rows: list[dict] = []
    for name, *_ in FULL_CASES:
        if args.cases and name not in args.cases:
            continue
        left = args.budget - (time.perf_counter() - started)
        if left < 60:
            rows.append({"case": name, "skipped": f"budget: {left:.0f} s left"})
            continue
        command = [sys.executable, __file__, "--full-size-random", "--case", name, "--steps", str(args.steps)]
        command += ["--sections", str(args.sections), "--seconds", str(args.seconds), "--sizes", str(args.sizes[0])]
        command += ["--parts-check", str(args.parts_check)] + (["--parts-only"] if args.parts_only else [])
        try:
            limit = left if name == FULL_CASES[-1][0] else min(left, args.case_timeout)
            print(f"case {name}: up to {limit:.0f} s", file=sys.stderr, flush=True)
            done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired as err:
            out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
            rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            rows.append({"case": name, "error": f"timed out after {limit:.0f} s"})
            continue
        found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        rows += found
        if done.returncode != 0:
            rows.append({"case": name, "error": done.stderr.strip()[-1500:]})
        if args.json_out:
            args.json_out.write_text(json.dumps({"rows": rows}, indent=2))
    return rows


def print_full(rows: list[dict]) -> None:
    head = f"{'case':<26}{'step s':>8}{'sect s':>8}{'s/s vid':>9}{'vid s/min':>10}{'GPU GiB':>9}{'RSS GiB':>9}"
    print(head)
    for r in rows:
        if "parts" in r:
            print(f"{r['case']:<40} motion {r['motion_s']} s, peak GPU {r['peak_gpu_gib']} GiB, parts {r['parts']}")
            continue
        if "step_s" not in r:
            print(f"{r['case']:<26} {r.get('error') or r.get('skipped')}"[:400])
            continue
        print(
            f"{r['case']:<26}{r['step_s']:>8.3f}{r['section_s_25']:>8.1f}{r['s_per_video_s']:>9.1f}"
            f"{r['video_s_per_gpu_min']:>10.2f}{r['peak_gpu_gib']:>9.2f}{r['peak_host_rss_gib']:>9.1f}"
        )


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
    parser.add_argument("--full-size-random", action="store_true", help="published sizes, random weights")
    parser.add_argument("--sections", type=int, default=2, help="full size: sections to time")
    parser.add_argument("--case", help="full size: run one case in this process")
    parser.add_argument("--cases", nargs="+", help="full size: only these cases")
    parser.add_argument("--parts-check", type=int, default=0, help="full size: sections for the parts check")
    parser.add_argument("--parts-only", action="store_true", help="full size: only the parts check")
    parser.add_argument("--case-timeout", type=float, default=150.0, help="full size: seconds per case")
    parser.add_argument("--budget", type=float, default=480.0, help="full size: seconds for all cases")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import diffusers
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU: this benchmark measures GPU memory modes.")
    if args.full_size_random:
        if args.case:
            run_case(args, args.case)
            return
        env = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "diffusers": diffusers.__version__}
        rows = full_size(args)
        print(json.dumps(env))
        print_full(rows)
        if args.json_out:
            args.json_out.write_text(json.dumps({"env": env, "args": vars(args) | {"json_out": None}, "rows": rows}))
        return
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
