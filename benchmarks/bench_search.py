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
At scale on a bigger machine, split so that the one-off fill and build use every core and the timed
searches run on fewer (docs/scale.md, "1,000,000 clips on a 16-core machine"): `--save-embeddings F` (where
the model is), then `--embeddings F --prepare S --sizes 1000000 --workers 12` (fill, exact rankings to
S.truth.json, build), then `taskset -c 0,1 ... --embeddings F --existing S --truth S.truth.json --build`
and `... --int8-only` for the int8 rebuild. `--words english` makes clip and query texts of English words
drawn by frequency instead of the 36 benchmark words (realistic posting lists; see `VOCABULARIES`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "network packet router handshake bread dough oven yeast planet orbit storm ring chest heart "
    "breath budget hiring meeting slide chart revenue engine camera street bicycle river mountain "
    "lecture question answer protocol window flow congestion crust gluten"
).split()
CLIPS_PER_VIDEO = 100
# The words of clips and queries. "bench": the 36 WORDS above, uniformly, so each query word is in about
# half of all clips (the worst case for the sparse index: every posting list is long). "english": words
# drawn by their frequency in English (wordfreq's top `ENGLISH_WORDS`), as speech uses them; queries
# draw from the words the sparse encoder keeps (no stop words), also by frequency, so common content
# words ("time", "people") dominate them: long posting lists still, but not every word in half the clips.
# The dense topics are made of WORDS either way, so an "english" query is near no clip (top cosine
# ~0.3 against ~0.77): its figures are those of a question the library does not answer.
VOCABULARIES = ("bench", "english")
ENGLISH_WORDS = 30_000
_VOCABULARY = {"name": "bench"}
TOPIC_POOL = 1000
# sparse alone shows what the words add to a hybrid search (its other part is the dense search)
MODES = ("hybrid", "dense", "sparse", "hybrid+video", "hybrid+time", "hybrid+video+time")


class Vectors:
    """Dense clip vectors, generated batch by batch (the same for the same batch and seed)."""

    def __init__(self, kind: str, embedder, seed: int) -> None:
        self.kind = kind
        self.seed = seed
        self.pool = np.zeros((0, 384), dtype=np.float32)
        if kind == "topics":
            self.pool = np.asarray(embedder.dense(pool_sentences()), dtype=np.float32)

    def rng(self, first: int) -> np.random.Generator:
        """A batch's own generator (noise and text): batches can be made in any order, by any process."""
        return np.random.default_rng([self.seed, first])

    def batch(self, first: int, count: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((count, 384)).astype(np.float32)
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


def pool_sentences() -> list[str]:
    pool_rng = np.random.default_rng(12345)
    return [" ".join(pool_rng.choice(WORDS, 6)) for _ in range(TOPIC_POOL)]


class StoredEmbedder:
    """The dense vectors of the benchmark's texts (topic pool and queries) saved by `--save-embeddings`,
    for a machine without the embedding model; the sparse vectors are computed as usual."""

    def __init__(self, path: Path) -> None:
        from vidrag.indexing.embed import SparseEncoder

        data = np.load(path)
        self.table = dict(zip(data["texts"].tolist(), data["vectors"]))
        self.sparse = SparseEncoder()

    def dense(self, texts) -> list[list[float]]:
        return [self.table[text].tolist() for text in texts]


def save_embeddings(embedder, path: Path, recall_n: int) -> None:
    texts = pool_sentences() + _texts(50) + _texts(recall_n, seed=10_000)
    np.savez(path, texts=np.asarray(texts), vectors=np.asarray(embedder.dense(texts), dtype=np.float32))


_WORKER: dict = {}


def _start_worker(vectors: Vectors) -> None:
    from vidrag.indexing.embed import SparseEncoder

    _WORKER["vectors"], _WORKER["sparse"] = vectors, SparseEncoder()


def _points(task: tuple[int, int]) -> tuple[list[str], np.ndarray, list, list[dict]]:
    """One batch of generated clips as the store writes them: ids, dense vectors, sparse vectors, payloads."""
    from vidrag.storage.ids import clip_point_id
    from vidrag.storage.types import Clip

    first, count = task
    vectors, sparse = _WORKER["vectors"], _WORKER["sparse"]
    rng = vectors.rng(first)
    dense = vectors.batch(first, count, rng)
    ids, sparses, payloads = [], [], []
    for j in range(count):
        i = first + j
        text = " ".join(_draw(rng, 25, query=False))
        clip = Clip(
            f"video{i // CLIPS_PER_VIDEO}",
            f"/lib/video{i // CLIPS_PER_VIDEO}.mp4",
            i % CLIPS_PER_VIDEO,
            (i % CLIPS_PER_VIDEO) * 10.0,
            (i % CLIPS_PER_VIDEO) * 10.0 + 10,
            transcript=text,
        )
        ids.append(clip_point_id(clip.video_id, clip.start, clip.end, clip.kind))
        sparses.append(sparse.document(text))
        payloads.append(clip.payload())
    return ids, dense, sparses, payloads


def _fill(store, size: int, vectors: Vectors, progress: bool = False, workers: int = 1) -> None:
    """Write `size` generated clips, 10,000 a write; `workers` processes generate the batches (the
    store is written by this process alone, in batch order, so the store is the same for any count)."""
    import multiprocessing

    from vidrag.storage.qdrant_store import StoredPoint

    step = 10_000
    started = time.perf_counter()
    tasks = [(first, min(step, size - first)) for first in range(0, size, step)]
    pool = None
    batches: Iterable[tuple] = ()
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers, _start_worker, (vectors,))
        batches = _ahead(pool, tasks, 2 * workers)
    else:
        _start_worker(vectors)
        batches = map(_points, tasks)
    try:
        for (first, count), (ids, dense, sparses, payloads) in zip(tasks, batches):
            points = [
                StoredPoint(pid, row, sv if sv.indices else None, payload)
                for pid, row, sv, payload in zip(ids, dense.tolist(), sparses, payloads)
            ]
            store._write(points)  # what `upsert` writes, made by the workers
            if progress and (first // step) % 10 == 9:
                done = first + count
                rate = done / (time.perf_counter() - started)
                print(f"  filled {done:,}/{size:,} ({rate:,.0f} clips/s)", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _ahead(pool, tasks: list[tuple[int, int]], window: int) -> Iterator[tuple]:
    """The workers' batches in task order, at most `window` made ahead of the writer: `Pool.imap`
    buffers every finished batch, and its workers outran the writer by 1.5M clips (~6.7 GB held) in a
    3M fill on 2 cores."""
    pending: collections.deque = collections.deque()
    for task in tasks:
        pending.append(pool.apply_async(_points, (task,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


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
        if key == "Threads":
            fields[key] = int(value)
    return {
        "rss_mib": fields.get("VmRSS"),
        "peak_rss_mib": fields.get("VmHWM"),
        "anon_mib": fields.get("RssAnon"),
        "file_mib": fields.get("RssFile"),
        "threads": fields.get("Threads"),
    }


def _disk_mib(folder: Path) -> int:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20)


def _disk_parts(folder: Path) -> dict[str, int]:
    """MiB on disk by part of the segments (dense vectors, HNSW graph, quantised vectors, sparse, payload,
    ...) and the WAL: what a sizing needs in RAM and what may stay on disk."""
    parts: dict[str, float] = {}
    for f in folder.rglob("*"):
        if not f.is_file():
            continue
        rel = f.relative_to(folder).parts
        name = rel[2] if rel[0] == "segments" and len(rel) > 3 else rel[0]
        name = "payload" if name.startswith("payload") else "id_tracker" if name.startswith("id_tracker") else name
        parts[name] = parts.get(name, 0) + f.stat().st_size
    return {name: round(size / 2**20) for name, size in sorted(parts.items())}


def _machine() -> dict:
    """Where the figures come from: CPU model, cores this process may use, memory."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown",
    )
    return {"cpu": model, "cores_usable": len(os.sched_getaffinity(0)), "cores": os.cpu_count(), "load": _load()}


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _open(backend: str, folder: Path, policy=None):
    """The store; without a policy, the default one in float32 (the int8 runs name theirs: int8 is
    vidrag's default, measured here as the lever against float32)."""
    from vidrag.storage.edge_store import EdgeClipStore
    from vidrag.storage.index_policy import DEFAULT_POLICY

    if backend == "edge":
        return EdgeClipStore(folder, dim=384, policy=policy or dataclasses.replace(DEFAULT_POLICY, quantization=None))
    from qdrant_client import QdrantClient

    from vidrag.storage.qdrant_store import QdrantClientStore

    return QdrantClientStore(QdrantClient(":memory:"), "bench", dim=384)


@dataclasses.dataclass
class Queries:
    texts: list[str]
    dense: list[list[float]]
    sparse: list


def use_vocabulary(name: str) -> None:
    """Set the words clips and queries are made of (`VOCABULARIES`), before a fill or a search."""
    if name not in VOCABULARIES:
        raise SystemExit(f"--words {name!r} is not one of {VOCABULARIES}")
    _VOCABULARY.clear()
    _VOCABULARY["name"] = name
    if name == "english":
        import wordfreq

        from vidrag.indexing.embed import tokens

        words = wordfreq.top_n_list("en", ENGLISH_WORDS)
        weights = np.asarray([wordfreq.word_frequency(word, "en") for word in words])
        kept = [i for i, word in enumerate(words) if tokens(word)]  # what a query keeps: no stop words
        _VOCABULARY["clip"] = (np.asarray(words), weights / weights.sum())
        content = weights[kept]
        _VOCABULARY["query"] = (np.asarray(words)[kept], content / content.sum())


def _draw(rng: np.random.Generator, count: int, query: bool) -> list[str]:
    if _VOCABULARY["name"] == "bench":
        return list(rng.choice(WORDS, count))
    words, probabilities = _VOCABULARY["query" if query else "clip"]
    return list(rng.choice(words, count, p=probabilities))


def _texts(count: int, seed: int = 0) -> list[str]:
    return [" ".join(_draw(np.random.default_rng(seed + i), 6, query=True)) for i in range(count)]


def _queries(embedder, count: int, seed: int = 0) -> Queries:
    texts = _texts(count, seed)
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
    """p50/p95 of `n` searches in `mode`, after one untimed pass over the same queries: a first pass
    pays for the store's pages the machine's memory manager dropped (seen here: 24-31 ms hybrid p50 at
    1M in a fresh process, 12-18 ms once warm)."""
    args = _filters(mode)
    for i in range(n):
        store.search(queries.dense[i], queries.sparse[i], k=10, **args)
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
    result["memory_after_queries"] = _memory()
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
    workers: int = 1,
) -> dict:
    """One size: exact latency, index build, indexed latency and recall (and the int8 lever)."""
    from vidrag.storage.index_policy import DEFAULT_POLICY

    queries = _queries(embedder, 50)
    recall_queries = _queries(embedder, recall_n, seed=10_000)
    vectors = Vectors(vectors_kind, embedder, size)
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        folder = Path(tmp) / "shard"
        memory_before = _memory()
        store = _open(backend, folder)
        report: dict = {"store": backend, "clips": size, "vectors": vectors_kind, "words": _VOCABULARY["name"]}
        report["load_before"] = _load()
        report["machine"] = _machine()
        started = time.perf_counter()
        # Qdrant Edge indexes only when asked: the fill leaves plain segments, `build_index` is timed apart
        _fill(store, size, vectors, progress=size >= 200_000, workers=workers)
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
        report["disk_parts_mib"] = _disk_parts(folder)
        _partial(report)
        store.close()
        if int8:
            store = _open(backend, folder, dataclasses.replace(DEFAULT_POLICY, quantization="int8"))
            report["int8"] = _measure_index(store, queries, recall_queries, exact, list(efs), "int8")
            report["int8"]["disk_mib"] = _disk_mib(folder)
            report["int8"]["disk_parts_mib"] = _disk_parts(folder)
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


def prepare(
    folder: Path,
    size: int,
    embedder,
    *,
    vectors_kind: str = "topics",
    recall_n: int = 200,
    workers: int = 1,
    build: bool = True,
) -> dict:
    """Fill a kept store at `folder` (with every core the process may use), rank the recall queries by
    exact search (the truth that `--existing ... --truth` measures recall against) and build the index:
    the one-off steps, apart from the timed searches, which another process can make on fewer cores."""
    if (folder / "vidrag.json").exists():
        raise SystemExit(f"{folder} holds a store already; give a new folder.")
    recall_queries = _queries(embedder, recall_n, seed=10_000)
    vectors = Vectors(vectors_kind, embedder, size)
    report: dict = {"store": "edge", "clips": size, "vectors": vectors_kind, "words": _VOCABULARY["name"]}
    report.update(machine=_machine(), workers=workers)
    memory_before = _memory()
    store = _open("edge", folder)
    started = time.perf_counter()
    _fill(store, size, vectors, progress=size >= 200_000, workers=workers)
    report["fill_s"] = round(time.perf_counter() - started, 1)
    report["memory_before"], report["memory_after_fill"] = memory_before, _memory()
    report["disk_before_build_mib"] = _disk_mib(folder)
    report["status_after_fill"] = store.index_status().to_dict()
    _partial(report)
    store.exact = True
    started = time.perf_counter()
    truth = {mode: _ranked(store, recall_queries, mode)[0] for mode in ("dense", "hybrid")}
    report["truth_s"] = round(time.perf_counter() - started, 1)
    (folder.parent / f"{folder.name}.truth.json").write_text(
        json.dumps({"recall_n": recall_n, "words": _VOCABULARY["name"], **truth})
    )
    store.exact = False
    if build:
        started = time.perf_counter()
        store.build_index()
        report["build_s"] = round(time.perf_counter() - started, 1)
        report["load_after_build"] = _load()
        report["memory_after_build"] = _memory()
        report["index"] = store.index_status().to_dict()
        report["disk_mib"] = _disk_mib(folder)
        report["disk_parts_mib"] = _disk_parts(folder)
    store.close()
    return report


def measure_existing(
    folder: Path,
    embedder,
    *,
    recall_n: int = 200,
    efs: tuple[int, ...] = (128, 256, 512),
    truth: Path | None = None,
    build: bool = False,
    int8: bool = False,
    int8_only: bool = False,
    rebuild: bool = True,
) -> dict:
    """An Edge store folder filled (and indexed) earlier, e.g. by `--prepare` or a run stopped after its
    build: exact latency, then (after a timed build with `build`) indexed latency and recall as it stands;
    recall against `truth` (the exact rankings `--prepare` saved) or exact rankings made here; with
    `int8`, the same again after a rebuild with int8 quantisation (`int8_only`: that alone; without
    `rebuild`, the store as an earlier int8 run built it, e.g. to time it warm)."""
    from vidrag.storage.index_policy import DEFAULT_POLICY

    if not (folder / "vidrag.json").is_file():
        raise SystemExit(f"{folder} holds no vidrag Edge store (no vidrag.json); give the store's folder.")
    queries = _queries(embedder, 50)
    recall_queries = _queries(embedder, recall_n, seed=10_000)
    memory_before = _memory()
    store = _open("edge", folder)
    report: dict = {"store": "edge", "clips": store.count(), "vectors": "as stored", "existing": str(folder)}
    report["words"] = _VOCABULARY["name"]
    report["machine"] = _machine()
    report["load_before"] = _load()
    report["load_after_fill"] = report["load_before"]
    report["fill_s"] = None
    report["memory_before"] = memory_before
    report["status_before"] = store.index_status().to_dict()
    store.exact = True
    if not int8_only:
        report["exact_latency"] = {mode: _latency(store, queries, mode) for mode in MODES}
        report["memory_exact"] = _memory()
    if truth is not None:
        saved = json.loads(truth.read_text())
        if saved["recall_n"] != recall_n:
            raise SystemExit(f"{truth} holds the exact rankings of {saved['recall_n']} queries, not {recall_n}.")
        if saved.get("words", "bench") != _VOCABULARY["name"]:
            raise SystemExit(f"{truth} ranks queries of --words {saved.get('words', 'bench')}; pass that.")
        exact = {mode: [[tuple(hit) for hit in hits] for hits in saved[mode]] for mode in ("dense", "hybrid")}
    else:
        exact = {mode: _ranked(store, recall_queries, mode)[0] for mode in ("dense", "hybrid")}
    store.exact = False
    _partial(report)
    if not int8_only:
        label = "built here" if build else "as built"
        report["hnsw"] = _measure_index(store, queries, recall_queries, exact, list(efs), label, build=build)
        report["disk_mib"] = _disk_mib(folder)
        report["disk_parts_mib"] = _disk_parts(folder)
    store.close()
    if int8 or int8_only:
        _partial(report)
        store = _open("edge", folder, dataclasses.replace(DEFAULT_POLICY, quantization="int8"))
        label = "int8" if rebuild else "int8 as built"
        report["int8"] = _measure_index(store, queries, recall_queries, exact, list(efs), label, build=rebuild)
        report["int8"]["disk_mib"] = _disk_mib(folder)
        report["int8"]["disk_parts_mib"] = _disk_parts(folder)
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
    parser.add_argument("--existing", type=Path, help="measure this Edge store folder as it is (no fill)")
    parser.add_argument("--truth", type=Path, help="with --existing: exact rankings saved by --prepare")
    parser.add_argument("--build", action="store_true", help="with --existing: build the index first (timed)")
    parser.add_argument("--int8-only", action="store_true", help="with --existing: only the int8 rebuild and search")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="with --int8-only: measure the store as an int8 run built it"
    )
    parser.add_argument(
        "--prepare", type=Path, help="fill a store at this folder (one size), save exact rankings, build; no timing"
    )
    parser.add_argument("--no-build", action="store_true", help="with --prepare: leave the index unbuilt")
    parser.add_argument("--workers", type=int, default=1, help="processes generating the clips of a fill")
    parser.add_argument("--embeddings", type=Path, help="dense vectors saved by --save-embeddings (no model needed)")
    parser.add_argument("--save-embeddings", type=Path, help="save the dense vectors of the benchmark's texts")
    parser.add_argument("--no-cli", action="store_true", help="skip the `vidrag search` wall-time runs")
    parser.add_argument("--out", type=Path, help="also write the report as JSON to this file, size by size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--words", choices=VOCABULARIES, default="bench", help="the words of clips and queries (see VOCABULARIES)"
    )
    args = parser.parse_args()
    use_vocabulary(args.words)
    if args.embeddings:
        embedder = StoredEmbedder(args.embeddings)
    else:
        from vidrag.indexing.embed import Embedder

        embedder = Embedder()
    if args.save_embeddings:
        save_embeddings(embedder, args.save_embeddings, args.recall_queries)
        return
    rows = []
    if args.prepare:
        rows.append(
            prepare(
                args.prepare,
                args.sizes[0],
                embedder,
                vectors_kind=args.vectors,
                recall_n=args.recall_queries,
                workers=args.workers,
                build=not args.no_build,
            )
        )
        print(json.dumps(rows[-1], indent=2))
        if args.out:
            args.out.write_text(json.dumps(rows, indent=2))
        return
    if args.existing:
        rows.append(
            measure_existing(
                args.existing,
                embedder,
                recall_n=args.recall_queries,
                efs=tuple(args.ef),
                truth=args.truth,
                build=args.build,
                int8=args.int8,
                int8_only=args.int8_only,
                rebuild=not args.no_rebuild,
            )
        )
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
                workers=args.workers,
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
        f"\n{row['store']} {row['clips']:,} clips ({row['vectors']} vectors, {row['words']} words): "
        f"fill {row['fill_s']} s; "
        f"load averages before {row['load_before']}, after fill {row['load_after_fill']}"
    )
    if "exact_latency" in row:
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
