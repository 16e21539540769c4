"""Ingest speed in one process against Ray Data with 1, 2, … analyse workers, in one run.

On the four sample lectures (640x360, 25 fps, speech and slides; the embedded default: describer,
Whisper tiny.en, MiniLM, Qdrant Edge), each mode ingests the same files into a fresh home:
- single process: `Library.ingest`, models loaded before the clock starts (a warm process);
- Ray with N workers: a local Ray cluster (`ray.init` timed on its own), then
  `Library.ingest_on_ray` — its wall time includes the actors' start-up and model loads, the
  pickling of each video's work between stages and the scheduling, i.e. all of Ray's overhead.

Reported per mode: wall seconds, media seconds per wall second, the ratio to the single process,
Ray's overhead per video ((Ray wall − single wall) / videos, so it also holds the fixed start-up
spread over the videos), and per stage the media seconds per busy second of one worker.
A local cluster gets max(cores, workers + 1) logical CPUs: the caption and embed workers reserve half a
CPU each, so on a small machine Ray's CPUs oversubscribe the cores.

Run: `.venv/bin/python -m benchmarks.bench_ray_ingest [--workers 1,2,4,8,16] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STAGES = ("asr", "decode", "ocr", "segment", "caption", "embed", "store")


def single(files: list[Path], home: Path) -> dict:
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.indexing.pipeline import throughput

    library = open_library(Settings(home=home), for_ingest=True)
    library.indexer.transcriber.load()
    library.indexer.embedder.load()
    started = time.perf_counter()
    results = library.ingest(files)
    summary = throughput(results, time.perf_counter() - started)
    size = footprint(library, summary["media_s"])
    library.close()
    return {"mode": "single process", "workers": 1, "ray_start_s": 0.0, "footprint": size, **summary}


def footprint(library, media_s: float) -> dict:
    """Points and raw bytes per hour of video: payload JSON, dense float32 and sparse (index + weight)."""
    from vidrag.storage.qdrant_store import Where

    payloads = [payload for _, payload in library.store._scroll(Where())]
    sparse = sum(len(library.embedder.sparse.document(p.get("text", "")).indices) for p in payloads)
    dense = len(payloads) * library.store.dim * 4
    payload = sum(len(json.dumps(p).encode()) for p in payloads)
    hours = media_s / 3600
    return {
        "points": len(payloads),
        "points_per_hour": round(len(payloads) / hours),
        "payload_bytes_per_point": round(payload / len(payloads)),
        "dense_bytes_per_point": library.store.dim * 4,
        "sparse_bytes_per_point": round(8 * sparse / len(payloads)),
        "raw_bytes_per_hour": round((payload + dense + 8 * sparse) / hours),
    }


class _PassThrough:
    """A stage that does nothing: what is left of a run through it is Ray's own cost."""

    def __call__(self, row: dict) -> dict:
        return row


def ray_overhead(counts: tuple[int, int] = (8, 64), size: int = 1_000_000) -> dict:
    """Ray Data's own cost per video: items of `size` bytes (about a lecture's caption frames at the
    describer's 0.5 fps) through three one-actor pools like the ingest's, timed at two batch sizes so
    the fixed start-up (actor creation) and the per-item cost separate."""
    import ray

    walls = []
    for count in (2, *counts):  # the first run warms Ray up (worker processes, imports)
        items = [{"work": os.urandom(size)} for _ in range(count)]
        started = time.perf_counter()
        dataset = ray.data.from_items(items, override_num_blocks=count)
        for _ in range(3):
            dataset = dataset.map(_PassThrough, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.5)
        assert sum(1 for _ in dataset.iter_rows()) == count
        walls.append(time.perf_counter() - started)
    per_item = (walls[2] - walls[1]) / (counts[1] - counts[0])
    return {"item_bytes": size, "per_video_s": round(per_item, 3), "fixed_s": round(walls[1] - counts[0] * per_item, 2)}


def on_ray(files: list[Path], home: Path, workers: int) -> dict:
    import ray

    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library, worker_part
    from vidrag.indexing.pipeline import throughput

    settings = Settings(home=home)
    library = open_library(settings, for_ingest=True)
    started = time.perf_counter()
    ray.init(num_cpus=max(os.cpu_count() or 1, workers + 1), include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started
    try:
        started = time.perf_counter()
        results = library.ingest_on_ray(files, build=partial(worker_part, settings), workers=workers)
        summary = throughput(results, time.perf_counter() - started)
        summary["pass_through"] = ray_overhead()
    finally:
        ray.shutdown()
        library.close()
    return {"mode": "ray", "workers": workers, "ray_start_s": round(ray_start, 2), **summary}


def run(workdir: Path, workers: list[int]) -> dict:
    import logging

    import ray.data  # noqa: F401 - the import configures Ray Data's logger; then its INFO lines are turned down

    from vidrag.samples.library import build_sample_library

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    manifest = build_sample_library(workdir / "videos", include_real=False)
    files = [workdir / "videos" / entry["file"] for entry in manifest["videos"]]
    rows = [single(files, workdir / "single")]
    for count in workers:
        rows.append(on_ray(files, workdir / f"ray-{count}", count))
    base = rows[0]
    for row in rows:
        row["x_single"] = round(row["media_s_per_s"] / base["media_s_per_s"], 2)
        extra = row["wall_s"] - base["wall_s"] if row["mode"] == "ray" else 0.0
        row["overhead_per_video_s"] = round(extra / len(files), 2)
    return {"videos": len(files), "cpu_count": os.cpu_count(), "rows": rows}


def print_table(report: dict) -> None:
    print(f"{report['videos']} videos, {report['rows'][0]['media_s']} media s, {report['cpu_count']} cores")
    header = (
        f"{'mode':15s} {'workers':>7s} {'ray start s':>11s} {'wall s':>7s} {'media s/s':>9s} {'x single':>8s} "
        f"{'overhead/video s':>16s}"
    )
    print(header + "  " + " ".join(f"{s:>7s}" for s in STAGES) + "   (stage: media s per busy s)")
    for r in report["rows"]:
        rates = " ".join(f"{r['stages'].get(s, {}).get('media_s_per_s') or 0:7.1f}" for s in STAGES)
        print(
            f"{r['mode']:15s} {r['workers']:7d} {r['ray_start_s']:11.1f} {r['wall_s']:7.1f} "
            f"{r['media_s_per_s']:9.1f} "
            f"{r['x_single']:8.2f} {r['overhead_per_video_s']:16.2f}  {rates}"
        )
    for r in report["rows"][1:]:
        print(f"Ray alone, {r['workers']} worker(s): {json.dumps(r['pass_through'])} (three pass-through stages)")
    print("footprint:", json.dumps(report["rows"][0]["footprint"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Ray analyse worker counts, comma-separated.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        report = run(Path(tmp), workers)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
