"""Ingest memory against video length: a long video should peak at about what a short one does.

    python -m benchmarks.bench_memory [--short 600] [--long 10800] [--limit 1.5]

Generates two grey videos with a tone (96x54, 2 fps, so that decoding is cheap and what grows with
the video shows), ingests each in a fresh child process (the word-hash embedder and a scripted
transcriber stand in for the models; decoding, cutting, audio windows, the stage graph, the store
and the catalog are the real ones) and prints each peak RSS and their ratio as JSON. Exit status 1
when the long video's peak exceeds --limit times the short one's, or when either fails to index.
About 1 min to generate the 3-hour file and a few to ingest it on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from tests.fakes import ScriptedTranscriber, WordHashEmbedder
from vidrag.indexing import heap
from vidrag.indexing.describe import Describer
from vidrag.indexing.pipeline import Indexer
from vidrag.storage.catalog import Catalog
from vidrag.storage.edge_store import EdgeClipStore

video, home = Path(sys.argv[1]), Path(sys.argv[2])
heap.bound_heap()  # as `vidrag ingest` does for its own process
embedder = WordHashEmbedder()
store = EdgeClipStore(home / "qdrant", dim=embedder.dim)
indexer = Indexer(store=store, catalog=Catalog(home / "catalog.sqlite"), embedder=embedder,
                  transcriber=ScriptedTranscriber("a steady tone sounds over a grey picture"),
                  captioner=Describer(), ocr=None, cache_dir=home / "cache")
started = time.perf_counter()
[result] = indexer.ingest([video])
wall = time.perf_counter() - started
store.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"status": result.status, "clips": result.clips, "duration": result.duration,
                  "peak_mb": round(peak, 1), "wall_s": round(wall, 1)}))
"""


def make_video(folder: Path, seconds: int) -> Path:
    from vidrag.indexing.media import ffmpeg_exe

    path = folder / f"grey-{seconds}s.mp4"
    sources = ["-f", "lavfi", "-i", "color=c=0x808080:s=96x54:r=2"]
    sources += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "120", "-c:a", "aac", "-b:a", "16k", "-ac", "1"]
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *sources, "-t", str(seconds), *encode, str(path)]
    subprocess.run(command, check=True, timeout=1800)
    return path


def ingest(video: Path, home: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(video), str(home)], capture_output=True, text=True, cwd=ROOT, timeout=3600
    )
    if done.returncode != 0:
        raise SystemExit(f"ingest of {video.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=600, help="seconds of the short video")
    parser.add_argument("--long", type=int, default=3 * 3600, help="seconds of the long video")
    parser.add_argument("--limit", type=float, default=1.5, help="largest long/short peak ratio that passes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        folder = Path(scratch)
        short = ingest(make_video(folder, args.short), folder / "short")
        long = ingest(make_video(folder, args.long), folder / "long")
    ratio = long["peak_mb"] / short["peak_mb"]
    complete = (short["status"], long["status"]) == ("indexed", "indexed") and abs(long["duration"] - args.long) <= 1
    print(json.dumps({"short": short, "long": long, "peak_ratio": round(ratio, 2), "limit": args.limit}, indent=2))
    if not complete:
        print("a video was not indexed whole", file=sys.stderr)
    return 0 if complete and ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
