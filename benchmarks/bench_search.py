"""Search latency from 1k to millions of clips, exact and with the HNSW index, and `vidrag search` wall time.

Two embedded stores are measured: Qdrant Edge (the default; the Qdrant engine in process, on disk)
and qdrant-client's pure-Python local mode (in memory; it keeps an on-disk collection in memory too,
so its queries cost the same).
Points carry 384-d vectors and real BM25 sparse vectors of generated text. Dense vectors are either
isotropic random ones (`--vectors random`: no structure at all, the worst case for any approximate
index) or topical ones (`--vectors topics`, the default): each video has a topic, the sum of two real
MiniLM embeddings of six-word sentences from the benchmark's vocabulary, and each clip is its video's
topic plus isotropic noise of the same length (clips of a video share a cosine of about 0.5, as
consecutive clips of a lecture do). Queries are real MiniLM embeddings of six-word questions.

For each size the store is filled, searched exactly ("before": every query scans every vector),
indexed (`ClipStore.build_index`, timed) and searched again; recall@10 of the index against exact
search is measured on `--recall-queries` queries, for dense and hybrid search, at each `--ef`.
`--int8` then rebuilds the same store with scalar int8 quantisation and measures it again. Query
latency: p50/p95 over 50 queries after warm-up. Memory: the process's resident set before the fill,
after the build and after the queries, and the store's size on disk; the load averages of the
machine are printed beside every size (the machine may be shared).

Run: `.venv/bin/python -m benchmarks.bench_search [--sizes 1000 10000 100000] [--json]`;
at scale: `nice -n 5 .venv/bin/python -m benchmarks.bench_search --sizes 1000000 --stores edge --int8 --no-cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
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
CLIPS_PER_VIDEO = 100
TOPIC_POOL = 1000
MODES = ("hybrid", "dense", "hybrid+video", "hybrid+time", "hybrid+video+time")


class Vectors:
    """Dense clip vectors, generated batch by batch (the same for the same seed)."""

    def __init__(self, kind: str, embedder, rng: np.random.Generator) -> None:
        self.kind = kind
        self.rng = rng
        if kind == "topics":
            pool_rng = np.random.default_rng(12345)
            sentences = [" ".join(pool_rng.choice(WORDS, 6)) for _ in range(TOPIC_POOL)]
            self.pool = np.asarray(embedder.dense(sentences), dtype=np.float32)

    def batch(self, first: int, count: int) -> np.ndarray:
        noise = self.rng.standard_normal((count, 384)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        if self.kind == "random":
            return noise
        videos = np.arange(first, first + count) // CLIPS_PER_VIDEO
        # a video's topic: two pool sentences picked by the video number (deterministic)
        a, b = (videos * 7919) % TOPIC_POOL, (videos * 104729 + 17) % TOPIC_POOL
        topic = self.pool[a] + self.pool[b]
        topic /= np.linalg.norm(topic, axis=1, keepdims=True)
        vectors = topic + noise
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _fill(store, size: int, rng: np.random.Generator, sparse, vectors: Vectors, progress: bool = False) -> None:
    from vidrag.storage.qdrant_store import ClipVectors
    from vidrag.storage.types import Clip

    step = 2000
    started = time.perf_counter()
    for first in range(0, size, step):
        count = min(step, size - first)
        dense = vectors.batch(first, count)
        batch = []
        for j in range(count):
            i = first + j
            text = " ".join(rng.choice(WORDS, 25))
            clip = Clip(
                f"video{i // CLIPS_PER_VIDEO}",
                f"/lib/video{i // CLIPS_PER_VIDEO}.mp4",
                i % CLIPS_PER_VIDEO,
                (i % CLIPS_PER_VIDEO) * 10.0,
                (i % CLIPS_PER_VIDEO) * 10.0 + 10,
                transcript=text,
            )
            batch.append(ClipVectors(clip, dense[j].tolist(), sparse.document(text)))
        store.upsert(batch, batch_size=step)
        if progress and (first // step) % 50 == 49:
            done = first + count
            rate = done / (time.perf_counter() - started)
            print(f"  filled {done:,}/{size:,} ({rate:,.0f} clips/s)", file=sys.stderr, flush=True)


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def _memory() -> dict:
    """The process's resident set now and at its peak, and how much of it is the process's own memory
    (anonymous) rather than mapped store files (page cache the kernel can drop), MiB (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024)
    return {
        "rss_mib": fields.get("VmRSS"),
        "peak_rss_mib": fields.get("VmHWM"),
        "anon_mib": fields.get("RssAnon"),
        "file_mib": fields.get("RssFile"),
    }


def _disk_mib(folder: Path) -> int:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _open(backend: str, folder: Path, policy=None):
    from qdrant_client import QdrantClient

    from vidrag.storage.edge_store import EdgeClipStore
    from vidrag.storage.index_policy import DEFAULT_POLICY
    from vidrag.storage.qdrant_store import QdrantClientStore

    if backend == "edge":
        return EdgeClipStore(folder, dim=384, policy=policy or DEFAULT_POLICY)
    return QdrantClientStore(QdrantClient(":memory:"), "bench", dim=384)


@dataclasses.dataclass
class Queries:
    texts: list[str]
    dense: list[list[float]]
    sparse: list


def _queries(embedder, count: int, seed: int = 0) -> Queries:
    texts = [" ".join(np.random.default_rng(seed + i).choice(WORDS, 6)) for i in range(count)]
    return Queries(texts, embedder.dense(texts), [embedder.sparse.query(t) for t in texts])


def _filters(mode: str) -> dict:
    parts = mode.split("+")
    return {
        "mode": parts[0],
        "video_ids": ["video3", "video7"] if "video" in parts else None,
        "start": 100.0 if "time" in parts else None,
        "end": 200.0 if "time" in parts else None,
    }


def _latency(store, queries: Queries, mode: str, n: int = 50) -> dict:
    args = _filters(mode)
    store.search(queries.dense[0], queries.sparse[0], k=10, **args)
    timings = []
    for i in range(n):
        t = time.perf_counter()
        store.search(queries.dense[i], queries.sparse[i], k=10, **args)
        timings.append(time.perf_counter() - t)
    return _percentiles(timings)


def _ranked(store, queries: Queries, mode: str) -> tuple[list[list[tuple]], float]:
    out, started = [], time.perf_counter()
    for dense, sparse in zip(queries.dense, queries.sparse):
        hits = store.search(dense, sparse, k=10, mode=mode)
        out.append([(h.video_id, h.start) for h in hits])
    return out, (time.perf_counter() - started) / max(1, len(queries.dense))


def _recall(approx: list[list[tuple]], exact: list[list[tuple]]) -> float:
    return round(statistics.mean(len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(approx, exact)), 4)


def _measure_index(
    store, queries: Queries, recall_queries: Queries, exact: dict, efs: list[int], label: str, build: bool = True
) -> dict:
    """Build the index, then latency per mode and recall@10 against exact search at each ef."""
    started = time.perf_counter()
    if build:
        store.build_index()
    build_s = time.perf_counter() - started
    status = store.index_status()
    result = {"label": label, "build_s": round(build_s, 1), "index": status.to_dict(), "load_after_build": _load()}
    result["memory_after_build"] = _memory()
    base = store.policy
    sweep = []
    for ef in efs:
        store.policy = dataclasses.replace(base, hnsw_ef=ef)
        row = {"hnsw_ef": ef}
        for mode in ("dense", "hybrid"):
            ranked, mean_s = _ranked(store, recall_queries, mode)
            row[f"{mode}_recall@10"] = _recall(ranked, exact[mode])
            row[f"{mode}_mean_ms"] = round(1000 * mean_s, 2)
        sweep.append(row)
    store.policy = base
    result["recall"] = sweep
    result["latency"] = {mode: _latency(store, queries, mode) for mode in MODES}
    result["load_after_queries"] = _load()
    return result


def _partial(report: dict) -> None:
    """A phase's figures to stderr at once: a million-clip run takes hours, and may be stopped."""
    print(json.dumps({"partial": report}), file=sys.stderr, flush=True)


def measure_scale(
    backend: str,
    size: int,
    embedder,
    *,
    vectors_kind: str = "topics",
    recall_n: int = 200,
    efs: tuple[int, ...] = (128, 256, 512),
    int8: bool = False,
    keep: Path | None = None,
) -> dict:
    """One size: exact latency, index build, indexed latency and recall (and the int8 lever)."""
    from vidrag.storage.index_policy import DEFAULT_POLICY

    queries = _queries(embedder, 50)
    recall_queries = _queries(embedder, recall_n, seed=10_000)
    vectors = Vectors(vectors_kind, embedder, np.random.default_rng(size))
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        folder = Path(tmp) / "shard"
        memory_before = _memory()
        store = _open(backend, folder)
        report: dict = {"store": backend, "clips": size, "vectors": vectors_kind, "load_before": _load()}
        started = time.perf_counter()
        # Qdrant Edge indexes only when asked: the fill leaves plain segments, `build_index` is timed apart
        _fill(store, size, np.random.default_rng(size), embedder.sparse, vectors, progress=size >= 200_000)
        report["fill_s"] = round(time.perf_counter() - started, 1)
        report["load_after_fill"] = _load()
        store.exact = True
        report["exact_latency"] = {mode: _latency(store, queries, mode) for mode in MODES}
        report["memory_exact"] = _memory()
        if backend != "edge":
            store.close()
            return report
        exact = {mode: _ranked(store, recall_queries, mode)[0] for mode in ("dense", "hybrid")}
        store.exact = False
        report["memory_before"] = memory_before
        _partial(report)
        report["hnsw"] = _measure_index(store, queries, recall_queries, exact, list(efs), "float32")
        report["disk_mib"] = _disk_mib(folder)
        _partial(report)
        store.close()
        if int8:
            store = _open(backend, folder, dataclasses.replace(DEFAULT_POLICY, quantization="int8"))
            report["int8"] = _measure_index(store, queries, recall_queries, exact, list(efs), "int8")
            report["int8"]["disk_mib"] = _disk_mib(folder)
            store.close()
    return report


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


def measure_existing(folder: Path, embedder, *, recall_n: int = 200, efs: tuple[int, ...] = (128, 256, 512)) -> dict:
    """An Edge store folder filled (and indexed) earlier, e.g. by a run stopped after its build:
    exact latency, then indexed latency and recall as it stands, without building."""
    if not (folder / "vidrag.json").is_file():
        raise SystemExit(f"{folder} holds no vidrag Edge store (no vidrag.json); give the store's folder.")
    queries = _queries(embedder, 50)
    recall_queries = _queries(embedder, recall_n, seed=10_000)
    memory_before = _memory()
    store = _open("edge", folder)
    report: dict = {"store": "edge", "clips": store.count(), "vectors": "as stored", "existing": str(folder)}
    report["load_before"] = _load()
    report["load_after_fill"] = report["load_before"]
    report["fill_s"] = None
    store.exact = True
    report["exact_latency"] = {mode: _latency(store, queries, mode) for mode in MODES}
    exact = {mode: _ranked(store, recall_queries, mode)[0] for mode in ("dense", "hybrid")}
    store.exact = False
    report["memory_before"] = memory_before
    report["hnsw"] = _measure_index(store, queries, recall_queries, exact, list(efs), "as built", build=False)
    report["disk_mib"] = _disk_mib(folder)
    store.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--stores", nargs="+", default=["edge", "client-local"])
    parser.add_argument("--vectors", choices=["topics", "random"], default="topics")
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[128, 256, 512], help="hnsw_ef values to measure")
    parser.add_argument("--int8", action="store_true", help="also rebuild with scalar int8 quantisation")
    parser.add_argument("--keep", type=Path, help="folder for the stores (default: the system temp dir)")
    parser.add_argument("--existing", type=Path, help="measure this Edge store folder as it is (no fill, no build)")
    parser.add_argument("--no-cli", action="store_true", help="skip the `vidrag search` wall-time runs")
    parser.add_argument("--out", type=Path, help="also write the report as JSON to this file, size by size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from vidrag.indexing.embed import Embedder

    embedder = Embedder()
    rows = []
    if args.existing:
        rows.append(measure_existing(args.existing, embedder, recall_n=args.recall_queries, efs=tuple(args.ef)))
        _print(rows[-1])
        if args.out:
            args.out.write_text(json.dumps(rows, indent=2))
        return
    for backend in args.stores:
        for size in args.sizes:
            row = measure_scale(
                backend,
                size,
                embedder,
                vectors_kind=args.vectors,
                recall_n=args.recall_queries,
                efs=tuple(args.ef),
                int8=args.int8,
                keep=args.keep,
            )
            rows.append(row)
            if args.out:
                args.out.write_text(json.dumps(rows, indent=2))
            if not args.json:
                _print(row)
                sys.stdout.flush()
    report = {"store": rows, "cli": None if args.no_cli else cli_wall_time()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    if report["cli"]:
        cli = report["cli"]
        print(
            f"`vidrag search` process start to output: {cli['search_wall_s_median']} s (median of 3); "
            f"`vidrag --help`: {cli['help_wall_s']} s"
        )


def _print(row: dict) -> None:
    print(
        f"\n{row['store']} {row['clips']:,} clips ({row['vectors']} vectors): fill {row['fill_s']} s; "
        f"load averages before {row['load_before']}, after fill {row['load_after_fill']}"
    )
    print("  exact:  " + "  ".join(f"{m} {v['p50_ms']}/{v['p95_ms']}" for m, v in row["exact_latency"].items()))
    for key in ("hnsw", "int8"):
        part = row.get(key)
        if not part:
            continue
        memory = part["memory_after_build"]
        print(
            f"  {part['label']}: build {part['build_s']} s; {part['index']['summary']}; "
            f"RSS {memory['rss_mib']} MiB (peak {memory['peak_rss_mib']}; own {memory.get('anon_mib')}, "
            f"mapped files {memory.get('file_mib')}), "
            f"before fill {row['memory_before']['rss_mib']}; "
            f"disk {part.get('disk_mib', row.get('disk_mib'))} MiB; load {part['load_after_queries']}"
        )
        print("    " + "  ".join(f"{m} {v['p50_ms']}/{v['p95_ms']}" for m, v in part["latency"].items()))
        for r in part["recall"]:
            print(
                f"    ef {r['hnsw_ef']}: recall@10 dense {r['dense_recall@10']} ({r['dense_mean_ms']} ms), "
                f"hybrid {r['hybrid_recall@10']} ({r['hybrid_mean_ms']} ms)"
            )


if __name__ == "__main__":
    main()
