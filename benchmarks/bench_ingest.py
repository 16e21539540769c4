"""Ingest speed on the embedded default, against the media's duration and the decode floor.

For each sample lecture (640x360, 25 fps, speech + slides) it measures, in one run:
- the decode floor: decoding every frame once with the same decoder, nothing else;
- the full ingest wall time (hash, probe, ASR ‖ decode pass with cut detection and OCR, caption,
  embed, store) with a per-stage breakdown taken from the pipeline's own timings;
- frames decoded by the ingest against frames in the file (the pipeline decodes each frame once).

With `--plain` it also builds the comparator a user would write first and times it beside vidrag,
video by video, alternating (plain, vidrag, plain, vidrag… so load drift hits both alike): a plain
transcript RAG — faster-whisper tiny.en int8 on the file's audio, the text cut into fixed 30 s windows,
MiniLM vectors in memory, nothing else (no frames, OCR, shots or captions, no store). It reports both
rates and vidrag's speed as a multiple of the plain pipeline's, and each process's peak RSS so far.

Run: `.venv/bin/python -m benchmarks.bench_ingest [--plain] [--json]` (builds the sample library in a
temp folder).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def decode_floor(path: Path) -> tuple[float, int]:
    from vidrag.indexing.media import iter_frames, probe

    info = probe(path)
    started = time.perf_counter()
    count = sum(1 for _ in iter_frames(path, info))
    return time.perf_counter() - started, count


class PlainPipeline:
    """The comparator: Whisper tiny.en (int8, 2 threads) → 30 s windows → MiniLM vectors in memory."""

    WINDOW_S = 30.0

    def __init__(self) -> None:
        from faster_whisper import WhisperModel

        from vidrag.indexing.asr import resolve_whisper_model
        from vidrag.indexing.embed import Embedder

        self.model = WhisperModel(resolve_whisper_model("tiny.en"), device="cpu", compute_type="int8", cpu_threads=2)
        self.embedder = Embedder()
        self.embedder.dense(["warm up"])
        self.vectors: list = []

    def ingest(self, path: Path) -> dict:
        started = time.perf_counter()
        segments, info = self.model.transcribe(str(path), language="en")
        windows: dict[int, list[str]] = {}
        for segment in segments:
            windows.setdefault(int(segment.start // self.WINDOW_S), []).append(segment.text.strip())
        texts = [" ".join(parts) for _, parts in sorted(windows.items())]
        self.vectors.extend(self.embedder.dense(texts) if texts else [])
        wall = time.perf_counter() - started
        return {"wall_s": round(wall, 2), "windows": len(texts), "words": sum(len(t.split()) for t in texts)}


def _peak_rss_mib() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(workdir: Path, plain: bool = False) -> dict:
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.indexing import analysis
    from vidrag.samples.library import build_sample_library

    manifest = build_sample_library(workdir / "videos", include_real=False)
    library = open_library(Settings(home=workdir / "home"), for_ingest=True)
    decoded: list[int] = []
    original = analysis.analyse

    def counting(*args, **kwargs):  # record how many frames each ingest decoded
        result = original(*args, **kwargs)
        decoded.append(result.frames_decoded)
        return result

    library.indexer.embedder.dense(["warm up"])  # model load is start-up, not per-video cost
    comparator = PlainPipeline() if plain else None
    rows = []
    for entry in manifest["videos"]:
        path = workdir / "videos" / entry["file"]
        floor, frames = decode_floor(path)
        plain_row = comparator.ingest(path) if comparator else None
        analysis.analyse = counting
        import vidrag.indexing.stages as stages

        stages.analyse = counting
        started = time.perf_counter()
        result = library.indexer.ingest_file(path)
        wall = time.perf_counter() - started
        stages.analyse = original
        rows.append(
            {
                "video": entry["file"],
                "duration_s": round(result.duration, 2),
                "clips": result.clips,
                "ingest_s": round(wall, 2),
                "realtime_x": round(result.duration / wall, 2),
                "decode_floor_s": round(floor, 2),
                "ingest_over_floor": round(wall / floor, 1),
                "frames_in_file": frames,
                "frames_decoded": decoded[-1],
                "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
                "asr_s_per_media_s": round(result.timings.get("asr", 0.0) / max(result.duration, 1e-9), 3),
                "words": sum(len(c.transcript.split()) for c in library.store.clips(result.video_id)),
                "warnings": result.warnings,
                **({"plain": plain_row} if plain_row else {}),
            }
        )
    library.store.close()
    total_media = sum(r["duration_s"] for r in rows)
    total_wall = sum(r["ingest_s"] for r in rows)
    total_asr = sum(r["stages_s"].get("asr", 0.0) for r in rows)
    return {
        "videos": rows,
        "media_s": round(total_media, 1),
        "ingest_s": round(total_wall, 1),
        "realtime_x": round(total_media / total_wall, 2),
        "asr_s_per_media_s": round(total_asr / total_media, 3),
        "words": sum(r["words"] for r in rows),
        "cpu_count": os.cpu_count(),
        "peak_rss_mib": _peak_rss_mib(),
        **(_plain_totals(rows, total_media, total_wall) if plain else {}),
    }


def _plain_totals(rows: list[dict], media: float, vidrag_wall: float) -> dict:
    wall = sum(r["plain"]["wall_s"] for r in rows)
    return {
        "plain_s": round(wall, 1),
        "plain_realtime_x": round(media / wall, 2),
        "plain_words": sum(r["plain"]["words"] for r in rows),
        "vidrag_vs_plain_speed": round(wall / vidrag_wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plain", action="store_true", help="also time the plain transcript pipeline, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = run(Path(tmp), plain=args.plain)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{'video':22s} {'media s':>8s} {'ingest s':>9s} {'x real':>7s} {'floor s':>8s} {'/floor':>7s} "
        f"{'decoded/frames':>15s}  stages (s)"
    )
    for r in report["videos"]:
        stages = " ".join(f"{k}={v}" for k, v in r["stages_s"].items())
        print(
            f"{r['video']:22s} {r['duration_s']:8.1f} {r['ingest_s']:9.1f} {r['realtime_x']:7.1f} "
            f"{r['decode_floor_s']:8.2f} {r['ingest_over_floor']:7.1f} "
            f"{r['frames_decoded']:>7d}/{r['frames_in_file']:<7d}  {stages}"
        )
    print(
        f"total: {report['media_s']} s of video in {report['ingest_s']} s = {report['realtime_x']}x real time "
        f"on {report['cpu_count']} cores; ASR {report['asr_s_per_media_s']} s per media second, "
        f"{report['words']} words transcribed; peak RSS {report['peak_rss_mib']} MiB"
    )
    if args.plain:
        print(
            f"plain transcript pipeline (tiny.en int8, 30 s windows, MiniLM): {report['plain_s']} s = "
            f"{report['plain_realtime_x']}x real time, {report['plain_words']} words; vidrag runs at "
            f"{report['vidrag_vs_plain_speed']}x its speed"
        )


if __name__ == "__main__":
    main()
