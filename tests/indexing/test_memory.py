"""Memory is bounded by the stages' queues, not by the video: a 3-hour video ingests with about the
peak RSS of a 10-minute one (generated at low resolution and frame rate, with a tone for sound; the
word-hash embedder and the scripted transcriber stand in for the models, everything else is real)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vidrag.indexing.media import ffmpeg_exe

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, resource, sys
from pathlib import Path
from tests.fakes import ScriptedTranscriber, WordHashEmbedder
from vidrag.indexing import heap
from vidrag.indexing.describe import Describer
from vidrag.indexing.pipeline import Indexer
from vidrag.storage.catalog import Catalog
from vidrag.storage.edge_store import EdgeClipStore

video, home = Path(sys.argv[1]), Path(sys.argv[2])
heap.bound_heap()  # as the CLI and the server do for their own process
embedder = WordHashEmbedder()
store = EdgeClipStore(home / "qdrant", dim=embedder.dim)
indexer = Indexer(store=store, catalog=Catalog(home / "catalog.sqlite"), embedder=embedder,
                  transcriber=ScriptedTranscriber("a steady tone sounds over a grey picture"),
                  captioner=Describer(), ocr=None, cache_dir=home / "cache")
[result] = indexer.ingest([video])
store.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"status": result.status, "clips": result.clips, "duration": result.duration, "peak_mb": peak}))
"""


def _video(folder: Path, seconds: int) -> Path:
    path = folder / f"grey-{seconds}s.mp4"
    lavfi = [
        "-f",
        "lavfi",
        "-i",
        "color=c=0x808080:s=96x54:r=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=16000",
    ]
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "120", "-c:a", "aac", "-b:a", "16k", "-ac", "1"]
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *lavfi, "-t", str(seconds), *encode, str(path)]
    subprocess.run(command, check=True, timeout=600)
    return path


def _ingest(video: Path, home: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(video), str(home)], capture_output=True, text=True, cwd=ROOT, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # ~1 min to generate the 3-hour file, a few to ingest it
def test_a_three_hour_video_peaks_at_about_the_memory_of_a_ten_minute_one(tmp_path):
    short = _ingest(_video(tmp_path, 600), tmp_path / "short")
    long = _ingest(_video(tmp_path, 3 * 3600), tmp_path / "long")
    assert (short["status"], long["status"]) == ("indexed", "indexed")
    assert long["duration"] == pytest.approx(3 * 3600, abs=1.0) and long["clips"] >= 1000  # all of it was indexed
    assert long["peak_mb"] <= 1.5 * short["peak_mb"], (short, long)
