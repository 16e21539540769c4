"""A short loopback load run of `POST /search`: requests per second and latency percentiles.

Starts the API with uvicorn in its own process on 127.0.0.1 (a free port) over an ingested library
(`--home`; without it, the bundled sample library is built and ingested into a temporary folder
first, ~1-2 minutes on 2 cores), warms it up, then sends searches from `--concurrency` client
threads until `--requests` are done or `--seconds` have passed. Prints a summary; `--json-out`
writes it as JSON.

    python benchmarks/bench_api.py --requests 400 --concurrency 4 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = [
    "three-way handshake SYN ACK",
    "how do you knead bread dough",
    "chest compressions rate",
    "largest planet in the solar system",
    "congestion window slow start",
    "proofing the dough",
    "rabbit in a meadow",
    "people riding bikes",
    "closing a TCP connection",
    "rings of Saturn",
]


def ingest_samples(home: Path) -> None:
    """Build the sample library under `home` and ingest it with the embedded defaults."""
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.samples.library import build_sample_library

    folder = home / "samples"
    build_sample_library(folder)
    library = open_library(Settings(home=home), for_ingest=True)
    try:
        results = library.ingest([folder])
    finally:
        store = library.store
        (getattr(store, "close", None) or store.client.close)()
    print(f"ingested {sum(r.status != 'failed' for r in results)} videos into {home}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, port: int, torch_threads: int = 1) -> subprocess.Popen:
    """uvicorn in a child process (its own GIL), serving the app factory over `home`.

    `torch_threads` is the server's OMP_NUM_THREADS (`vidrag serve` itself sets one torch thread).
    """
    env = {
        **os.environ,
        "VIDRAG_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": str(torch_threads),
    }
    env.pop("VIDRAG_API_KEY", None)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "vidrag.api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_ready(base: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server at {base} did not come up in {timeout}s")


def check_library(base: str) -> None:
    """Refuse to measure an empty library (a search over nothing is not a search)."""
    import httpx

    hits = httpx.post(f"{base}/search", json={"query": QUERIES[0], "top_k": 5}, timeout=60).json()["hits"]
    if not hits:
        raise SystemExit(f"the library at {base} returned no hits; ingest videos into --home first")


def load(base: str, requests: int, concurrency: int, seconds: float, top_k: int) -> dict:
    """Send searches from `concurrency` threads; return counts, throughput and latency percentiles."""
    import httpx

    latencies: list[float] = []
    errors: list[int] = []
    lock, counter = threading.Lock(), iter(range(requests))
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.monotonic() < deadline:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                body = {"query": QUERIES[number % len(QUERIES)], "top_k": top_k}
                began = time.perf_counter()
                status = http.post("/search", json=body).status_code
                took = time.perf_counter() - began
                with lock:
                    (latencies if status == 200 else errors).append(took if status == 200 else status)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")  # noqa: E731
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "req_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pick(0.50), 1),
        "p95_ms": round(pick(0.95), 1),
        "p99_ms": round(pick(0.99), 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
        "top_k": top_k,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="An ingested vidrag home; default: build the samples.")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="Stop the load after this long.")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--torch-threads", type=int, default=1, help="The server's OMP_NUM_THREADS.")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch = None
    home = args.home
    if home is None:
        scratch = tempfile.TemporaryDirectory(prefix="vidrag-bench-")
        home = Path(scratch.name)
        ingest_samples(home)
    port = free_port()
    server = start_server(home, port, args.torch_threads)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        check_library(base)
        load(base, args.warmup, 1, 60.0, args.top_k)
        summary = load(base, args.requests, args.concurrency, args.seconds, args.top_k)
    finally:
        server.terminate()
        server.wait(15)
        if scratch is not None:
            scratch.cleanup()
    summary["torch_threads"] = args.torch_threads
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
