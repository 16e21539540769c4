"""Search latency at 1k, 10k and 100k clips, and `vidrag search` wall time as a user meets it.

Two embedded stores are measured: Qdrant Edge (the default; the Qdrant engine in process, on disk)
and qdrant-client's pure-Python local mode (in memory; it keeps an on-disk collection in memory too,
so its queries cost the same).
Points carry real MiniLM-sized vectors (384-d) and real BM25 sparse vectors of generated text.
Query latency is measured for the store alone and for embedding + store (what `Library.search`
does); p50/p95 over 50 queries after warm-up.

Run: `.venv/bin/python -m benchmarks.bench_search [--sizes 1000 10000 100000] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "network packet router handshake bread dough oven yeast planet orbit storm ring chest heart "
    "breath budget hiring meeting slide chart revenue engine camera street bicycle river mountain "
    "lecture question answer protocol window flow congestion crust gluten"
).split()


def _fill(store, size: int, rng: np.random.Generator, sparse) -> None:
    from vidrag.storage.qdrant_store import ClipVectors
    from vidrag.storage.types import Clip

    batch = []
    for i in range(size):
        text = " ".join(rng.choice(WORDS, 25))
        vector = rng.standard_normal(384).astype(np.float32)
        vector /= np.linalg.norm(vector)
        clip = Clip(
            f"video{i // 100}",
            f"/lib/video{i // 100}.mp4",
            i % 100,
            (i % 100) * 10.0,
            (i % 100) * 10.0 + 10,
            transcript=text,
        )
        batch.append(ClipVectors(clip, vector.tolist(), sparse.document(text)))
        if len(batch) == 2000:
            store.upsert(batch, batch_size=2000)
            batch = []
    if batch:
        store.upsert(batch, batch_size=2000)


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def _open(backend: str, folder: Path):
    from qdrant_client import QdrantClient

    from vidrag.storage.edge_store import EdgeClipStore
    from vidrag.storage.qdrant_store import QdrantClientStore

    if backend == "edge":
        return EdgeClipStore(folder, dim=384)
    return QdrantClientStore(QdrantClient(":memory:"), "bench", dim=384)


def store_latency(sizes: list[int], backends: list[str], queries: int = 50) -> list[dict]:
    from vidrag.indexing.embed import Embedder

    embedder = Embedder()
    questions = [" ".join(np.random.default_rng(i).choice(WORDS, 6)) for i in range(queries)]
    dense = embedder.dense(questions)
    rows = []
    for backend in backends:
        for size in sizes:
            rows.extend(_measure(backend, size, embedder, questions, dense))
    return rows


def _measure(backend, size, embedder, questions, dense) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(size)
        store = _open(backend, Path(tmp))
        started = time.perf_counter()
        _fill(store, size, rng, embedder.sparse)
        fill_s = time.perf_counter() - started
        for mode in ("hybrid", "dense", "hybrid+video"):
            kind, _, scoped = mode.partition("+")
            videos = ["video3", "video7"] if scoped else None
            store.search(dense[0], embedder.sparse.query(questions[0]), k=10, mode=kind, video_ids=videos)
            timings = []
            for question, vector in zip(questions, dense):
                t = time.perf_counter()
                store.search(vector, embedder.sparse.query(question), k=10, mode=kind, video_ids=videos)
                timings.append(time.perf_counter() - t)
            embed_times = []
            for question in questions[:20]:
                t = time.perf_counter()
                embedder.dense([question])
                embed_times.append(time.perf_counter() - t)
            rows.append(
                {
                    "store": backend,
                    "clips": size,
                    "mode": mode,
                    "fill_s": round(fill_s, 1),
                    **_percentiles(timings),
                    "embed_p50_ms": round(1000 * statistics.median(embed_times), 1),
                }
            )
        store.close()
    return rows


def cli_wall_time(runs: int = 3) -> dict:
    """Wall time of `vidrag search` from process start to output, on a one-video library."""
    root = Path(__file__).parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(root))
        from tests.media import speech_video

        video = speech_video(Path(tmp))
        env = {**os.environ, "VIDRAG_HOME": str(Path(tmp) / "home")}
        command = [sys.executable, "-m", "vidrag.api.cli"]
        subprocess.run([*command, "ingest", "-q", str(video)], env=env, check=True, capture_output=True, cwd=root)
        walls = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run([*command, "search", "budget", "--json"], env=env, check=True, capture_output=True, cwd=root)
            walls.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([*command, "--help"], env=env, check=True, capture_output=True, cwd=root)
        help_wall = time.perf_counter() - t
    return {"search_wall_s_median": round(statistics.median(walls), 2), "help_wall_s": round(help_wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--stores", nargs="+", default=["edge", "client-local"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"store": store_latency(args.sizes, args.stores), "cli": cli_wall_time()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{'store':13s} {'clips':>7s} {'mode':13s} {'fill s':>7s} {'p50 ms':>7s} {'p95 ms':>7s} {'embed p50 ms':>13s}"
    )
    for r in report["store"]:
        print(
            f"{r['store']:13s} {r['clips']:7d} {r['mode']:13s} {r['fill_s']:7.1f} {r['p50_ms']:7.1f} "
            f"{r['p95_ms']:7.1f} {r['embed_p50_ms']:13.1f}"
        )
    cli = report["cli"]
    print(
        f"`vidrag search` process start to output: {cli['search_wall_s_median']} s (median of 3); "
        f"`vidrag --help`: {cli['help_wall_s']} s"
    )


if __name__ == "__main__":
    main()
