"""GPU benchmark of MiniCPM-V-4.5 clip captioning: in process (vidrag's captioner) or through vLLM.

In-process mode drives `vidrag.indexing.captioners.minicpm.MiniCPMCaptioner` over synthetic clips
(`--frames` frames of `--width`x`--height` per `--clip-seconds` clip) for each configuration
`BATCH:TOKENS:VISION:CACHE[:WORKERS[:VISION_BATCH[:OVERLAP]]]` (BATCH 0 = auto from free memory; VISION
sdpa|eager|compiled for SigLIP; CACHE static|dynamic; OVERLAP serial (default) or overlap: the next call's
vision pass beside this call's decoding, or after it), e.g. `16:100:sdpa:static`. Each row captions
`--calls` calls' worth of clips in one `caption()` (so encoding overlaps the GPU as it does in ingest)
after a warm-up, and reports video-seconds captioned per wall second, ms per decode step, where the time
went (vision, prefill, decode) and peak GPU memory. Every answer is forced to TOKENS new tokens (`min_new_tokens`):
random weights never emit EOS.

Without weights (`--random-weights`, or automatically when none are cached) it builds the
full-size model from the real config and remote code (a folder or hub id with config.json, the
remote-code .py files and the tokenizer) with random bf16 weights directly on the GPU: compute does
not depend on weight values, so timings hold (captions are gibberish).

`--long-video SECONDS` also runs one long video end to end (frames decoded from a generated mp4 with
OpenCV, captioned in 10 s clips, captions embedded) and samples the GPU's busy share, once per
`--long-modes` entry: `decode-first` (decode everything, then caption) or `stream:N` (segments decoded
by `--long-decoders` threads while N-clip caption calls run on what is decoded).

    python benchmarks/bench_minicpm.py --model DIR --configs 1:384:eager:dynamic 64:100:sdpa:static
    python benchmarks/bench_minicpm.py --server http://localhost:8000/v1 --clips 64 --concurrency 16

Needs a CUDA GPU, torch, transformers==4.57.x, accelerate (server mode: only httpx).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidrag.indexing.captioners.base import ClipFrames
from vidrag.indexing.captioners.minicpm import MiniCPMCaptioner, check_transformers, load_minicpm
from vidrag.indexing.captioners.openai_server import OpenAICaptioner
from vidrag.indexing.model_registry import local_snapshot

GIB = 1024**3


def synthetic_clips(count: int, frames: int, size: tuple[int, int], seconds: float, seed: int = 0) -> list[ClipFrames]:
    """`count` clips of random RGB frames at bin-centre times, each clip its own span."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(frames * 2)]
    clips = []
    for i in range(count):
        start = i * seconds
        times = [start + (k + 0.5) * seconds / frames for k in range(frames)]
        pixels = [pool[(i + k) % len(pool)] for k in range(frames)]
        clips.append(ClipFrames(f"bench{i}", start, start + seconds, pixels, times))
    return clips


def build_random(model_id: str, attn: str) -> tuple[Any, Any, Any]:
    """Full-size model from the real config and remote code, random bf16 weights, built on CUDA."""
    import torch
    import transformers

    from vidrag.indexing.captioners.minicpm import check_torchvision

    check_transformers(transformers.__version__)
    check_torchvision("cuda")
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


def parse_config(text: str) -> dict[str, Any]:
    parts = text.split(":")
    batch, tokens, vision, cache = parts[:4]
    return {"batch": int(batch), "tokens": int(tokens), "vision": vision, "cache": cache,
            "workers": int(parts[4]) if len(parts) > 4 else 0,
            "vision_batch": int(parts[5]) if len(parts) > 5 else 64,
            "overlap": (parts[6] if len(parts) > 6 else "serial") == "overlap"}  # fmt: skip


def make_captioner(args: argparse.Namespace, loaded: Any, cfg: dict[str, Any]) -> MiniCPMCaptioner:
    cap = MiniCPMCaptioner(
        args.model, fps=args.frames / args.clip_seconds, packing=args.packing, batch=cfg["batch"],
        max_frames=args.frames, max_side=max(args.width, args.height), max_new_tokens=cfg["tokens"],
        vision_attention=cfg["vision"], cache=cfg["cache"], workers=cfg["workers"],
        vision_batch=cfg["vision_batch"], overlap_vision=cfg["overlap"], loader=lambda: loaded,
    )  # fmt: skip
    cap.min_new_tokens = cfg["tokens"]  # random weights never stop: force the budget
    return cap


def run_row(args: argparse.Namespace, loaded: Any, text: str) -> dict[str, Any]:
    import torch

    cfg = parse_config(text)
    cap = make_captioner(args, loaded, cfg)
    size = (args.width, args.height)
    per_call = cap.clips_per_call(synthetic_clips(1, args.frames, size, args.clip_seconds))
    cap.caption(synthetic_clips(min(per_call, args.warmup_clips), args.frames, size, args.clip_seconds, seed=1))
    count = args.single_clips if per_call == 1 else per_call * args.calls
    clips = synthetic_clips(count, args.frames, size, args.clip_seconds)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    cap.stats = type(cap.stats)()
    started = time.perf_counter()
    cap.caption(clips)
    torch.cuda.synchronize()
    wall = time.perf_counter() - started
    st = cap.stats
    row = {
        "config": text, "clips_per_call": per_call, "clips": len(clips), "new_tokens": cfg["tokens"],
        "siglip": cfg["vision"], "overlap": cfg["overlap"], "cache": cfg["cache"], "workers": cap.workers,
        "vision_batch": cap.vision_batch,
        "prompt_tokens_per_clip": round(st.prompt_tokens / max(st.clips, 1)),
        "wall_s": round(wall, 2), "video_s_per_s": round(len(clips) * args.clip_seconds / wall, 2),
        "ms_per_step": round(st.ms_per_step, 1), "vision_s": round(st.embed_s, 2),
        "prefill_s": round(st.prefill_s, 2), "decode_s": round(st.decode_s, 2),
        "gpu_share_of_wall": round((st.embed_s + st.prefill_s + st.decode_s) / wall, 2),
        "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 1),
        "cuda_graphs": st.extra.get("cuda_graphs", False),
    }  # fmt: skip
    cap._pool and cap._pool.shutdown()
    return row


class GpuSampler:
    """Samples NVML utilisation every 0.1 s in a thread: the share of samples with a kernel running."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            while not self._stop.is_set():
                self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                time.sleep(0.1)
        except Exception as err:  # noqa: BLE001 - NVML missing: report no share rather than fail the run
            print(f"GPU sampling unavailable: {err}", flush=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def busy(self) -> float:
        return sum(self.samples) / (100.0 * max(len(self.samples), 1))


def long_video(args: argparse.Namespace, loaded: Any, mode: str = "decode-first") -> dict[str, Any]:
    """One long generated video end to end: decode at the caption rate, caption 10 s clips, embed.

    `mode` "decode-first" decodes the whole video on one thread, then captions 192 clips per
    `caption()` (the old ingest's shape); "stream:N" decodes it in 60 s segments on `--long-decoders`
    threads (each seeking to its segment) while the captioner takes N clips per `caption()` as soon
    as they are decoded, through a bounded window of segments (the streaming ingest's shape).
    """
    fps = args.frames / args.clip_seconds
    path = Path(args.long_video_path or "/tmp/vidrag-long.mp4")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not path.exists():
        write_test_video(path, args.long_video, size=(640, 360), fps=fps)
    timings["generate_video"] = time.perf_counter() - started
    cfg = parse_config(args.long_config)
    cap = make_captioner(args, loaded, cfg)
    side = max(args.width, args.height)
    first_caption = 0.0
    with GpuSampler() as sampler:
        t0 = time.perf_counter()
        if mode == "decode-first":
            clips = decode_first(path, fps, args.clip_seconds, args.long_video, side)
            timings["decode"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            first_caption = t1 - t0
            captions = []
            for first in range(0, len(clips), 192):  # the chunk ingest hands the captioner
                captions += cap.caption(clips[first : first + 192])
            timings["caption"] = time.perf_counter() - t1
        else:
            chunk = int(mode.partition(":")[2] or 64)
            captions, pending, count = [], [], 0
            for segment in stream_segments(path, fps, args.clip_seconds, side, args.long_decoders):
                pending += segment
                while len(pending) >= chunk:
                    first_caption = first_caption or time.perf_counter() - t0
                    captions += cap.caption(pending[:chunk])
                    pending, count = pending[chunk:], count + chunk
            if pending:
                first_caption = first_caption or time.perf_counter() - t0
                captions += cap.caption(pending)
            timings["decode_and_caption"] = time.perf_counter() - t0
        t2 = time.perf_counter()
        vectors = embed_texts([c.text for c in captions])
        timings["embed"] = time.perf_counter() - t2
    cap._pool and cap._pool.shutdown()
    wall = sum(v for k, v in timings.items() if k != "generate_video")
    return {
        "mode": mode, "video_s": args.long_video, "clips": len(captions), "config": args.long_config,
        "decoders": args.long_decoders if mode != "decode-first" else 1,
        **{f"{k}_s": round(v, 1) for k, v in timings.items()}, "first_caption_after_s": round(first_caption, 1),
        "end_to_end_s": round(wall, 1), "video_s_per_s": round(args.long_video / wall, 1),
        "gpu_busy_share": round(sampler.busy, 2), "embedded": len(vectors),
    }  # fmt: skip


def _clips_of(frames: list[Any], times: list[float], start: float, end: float, seconds: float) -> list[ClipFrames]:
    clips = []
    lo = start
    while lo < end - 1e-6:
        hi = lo + seconds
        pick = [k for k, t in enumerate(times) if lo <= t < hi]
        clips.append(ClipFrames("long", lo, hi, [frames[k] for k in pick], [times[k] for k in pick]))
        lo = hi
    return clips


def decode_first(path: Path, fps: float, seconds: float, length: float, side: int) -> list[ClipFrames]:
    """Every clip of the video, after decoding all of it on one thread."""
    import numpy as np

    from vidrag.indexing.sampling import fit_frame

    frames, times = decode_frames(path, fps)
    frames = [np.asarray(fit_frame(f, side)) for f in frames]
    return _clips_of(frames, times, 0.0, int(length // seconds) * seconds, seconds)


def stream_segments(
    path: Path, fps: float, seconds: float, side: int, decoders: int, segment_s: float = 60.0
) -> Iterator[list[ClipFrames]]:
    """The video's clips a segment at a time, in order, decoded by `decoders` threads that each seek
    to their segment (OpenCV); at most `decoders + 1` segments are decoded ahead of the caller."""
    import cv2
    import numpy as np

    from vidrag.indexing.sampling import fit_frame

    probe = cv2.VideoCapture(str(path))
    native, total = probe.get(cv2.CAP_PROP_FPS) or fps, int(probe.get(cv2.CAP_PROP_FRAME_COUNT))
    probe.release()
    per = round(segment_s * native)

    def decode(first: int) -> list[ClipFrames]:
        reader = cv2.VideoCapture(str(path))
        reader.set(cv2.CAP_PROP_POS_FRAMES, first)
        frames, times = [], []
        k = max(0, math.ceil(first / native * fps - 0.5))
        for index in range(first, min(total, first + per)):
            if not reader.grab():
                break
            t = index / native
            if t + 0.5 / native >= (k + 0.5) / fps:
                ok, img = reader.retrieve()
                if ok:
                    frames.append(np.asarray(fit_frame(img[:, :, ::-1], side)))
                    times.append(t)
                k += 1
        reader.release()
        start = first / native
        return _clips_of(frames, times, start, min(start + segment_s, total / native), seconds)

    with ThreadPoolExecutor(max(1, decoders)) as pool:
        starts = iter(range(0, total, per))
        ahead = deque(pool.submit(decode, first) for first in itertools.islice(starts, decoders + 1))
        while ahead:
            clips = ahead.popleft().result()
            for first in itertools.islice(starts, 1):
                ahead.append(pool.submit(decode, first))
            yield clips


def write_test_video(path: Path, seconds: float, size: tuple[int, int], fps: float) -> None:
    """A moving test pattern (frames differ every frame), H.264 with PyAV or mp4v with OpenCV."""
    import numpy as np

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rate = max(1, round(fps * 2))
    count = int(seconds * rate)
    try:
        import av

        out = av.open(str(path), "w")
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        put = lambda img: [out.mux(p) for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24"))]  # noqa: E731
        close = lambda: ([out.mux(p) for p in stream.encode()], out.close())  # noqa: E731
    except ImportError:
        import cv2

        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), rate, (w, h))
        put = lambda img: writer.write(img[:, :, ::-1].copy())  # noqa: E731
        close = writer.release
    for i in range(count):
        img = np.stack([(xx + 3 * i) % 256, (yy + 2 * i) % 256, (xx + yy + i) % 256], -1).astype(np.uint8)
        put(img)
    close()


def decode_frames(path: Path, fps: float) -> tuple[list[Any], list[float]]:
    """Frames nearest to a `fps` grid of bin centres, decoded sequentially (OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    native = cap.get(cv2.CAP_PROP_FPS) or fps
    frames, times, k, index = [], [], 0, 0
    while True:
        ok = cap.grab()
        if not ok:
            break
        t = index / native
        if t + 0.5 / native >= (k + 0.5) / fps:
            ok, img = cap.retrieve()
            frames.append(img[:, :, ::-1])
            times.append(t)
            k += 1
        index += 1
    return frames, times


def embed_texts(texts: list[str]) -> Any:
    """Caption vectors: vidrag's embedder when installed, else a MiniLM-shaped random BERT on the GPU."""
    try:
        from vidrag.indexing.embed import Embedder

        return Embedder("all-MiniLM-L6-v2").dense(texts)
    except Exception as err:  # noqa: BLE001 - any load failure falls back
        print(f"vidrag embedder unavailable ({type(err).__name__}); timing a MiniLM-shaped random BERT", flush=True)
    import torch
    import transformers

    config = transformers.BertConfig(
        hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
    )
    model = transformers.BertModel(config).cuda().eval()
    ids = torch.randint(1000, 20000, (len(texts), 128), device="cuda")
    out = []
    with torch.inference_mode():
        for first in range(0, len(texts), 64):
            out.append(model(input_ids=ids[first : first + 64]).last_hidden_state.mean(1).cpu())
    return torch.cat(out)


def run_inprocess(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    random = args.random_weights or local_snapshot(args.model) is None
    started = time.perf_counter()
    loaded = build_random(args.model, args.attn) if random else load_minicpm(args.model, attn_implementation=args.attn)
    params = sum(p.numel() for p in loaded[0].parameters())
    print(f"model ready in {time.perf_counter() - started:.1f} s: {params / 1e9:.3f} B params, "
          f"{torch.cuda.memory_allocated() / GIB:.1f} GiB, random={random}", flush=True)  # fmt: skip
    rows = []
    for text in args.configs:
        try:
            rows.append(run_row(args, loaded, text))
        except Exception as err:  # noqa: BLE001 - keep the table going; say what failed
            rows.append({"config": text, "error": f"{type(err).__name__}: {err}"[:300]})
            torch.cuda.empty_cache()
        print(json.dumps(rows[-1]), flush=True)
        if args.json_out:
            args.json_out.write_text(json.dumps(rows, indent=2))
    for mode in args.long_modes if args.long_video else []:
        rows.append(long_video(args, loaded, mode))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def run_server(args: argparse.Namespace) -> list[dict[str, Any]]:
    cap = OpenAICaptioner(
        args.server, args.model, fps=args.frames / args.clip_seconds, max_frames=args.frames,
        max_side=max(args.width, args.height), max_tokens=100, concurrency=args.concurrency,
    )  # fmt: skip
    clips = synthetic_clips(args.clips, args.frames, (args.width, args.height), args.clip_seconds)
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
    parser.add_argument(
        "--configs", nargs="*", default=["1:384:eager:dynamic", "16:100:sdpa:static", "0:100:sdpa:static"]
    )
    parser.add_argument("--packing", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30, help="frames per clip")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--height", type=int, default=252)
    parser.add_argument("--calls", type=int, default=3, help="model calls per row (one caption() over them all)")
    parser.add_argument("--warmup-clips", type=int, default=4)
    parser.add_argument("--single-clips", type=int, default=3, help="clips for batch-1 rows (they are slow)")
    parser.add_argument("--long-video", type=float, default=0.0, help="seconds of one generated video end to end")
    parser.add_argument("--long-video-path")
    parser.add_argument("--long-config", default="0:100:sdpa:static")
    parser.add_argument(
        "--long-modes", nargs="+", default=["decode-first"], help="decode-first | stream:CLIPS_PER_CAPTION_CALL"
    )
    parser.add_argument("--long-decoders", type=int, default=4, help="stream mode: decoder threads")
    parser.add_argument("--server", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    parser.add_argument("--clips", type=int, default=64, help="server mode: clips to caption")
    parser.add_argument("--concurrency", type=int, default=16, help="server mode: requests in flight")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    rows = run_server(args) if args.server else run_inprocess(args)
    header = [k for k in rows[0] if k != "error"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, row.get("error", ""))) for k in header) + " |")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
