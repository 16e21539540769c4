"""Calibrates the no-LLM "not found" floor: relevance of answerable and unrelated questions, one run.

Ingests the sample library (or reads `--home`), scores every sample question (the retrieval
questions and both shipped QA files) and every unrelated question with
`vidrag.agent.extractive.relevance`, and prints both ranges, the gap between them, where `MIN_SIMILARITY`
sits in it, and the near misses (`NEAR_MISS_QUESTIONS`: unanswerable questions that share a lecture's
words and topic) with whether they are answered. A floor is safe when it leaves a margin on both
sides that another machine's transcript will not close. It also prints the top hit's search score in
each mode for both kinds of question: the data behind `storage.fusion`'s scale.

    python benchmarks/calibrate_relevance.py [--home DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _library(home: Path | None, work: Path):
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.samples.library import build_sample_library

    if home is not None:
        return open_library(Settings(home=home))
    videos = work / "videos"
    build_sample_library(videos)
    library = open_library(Settings(home=work / "home"), for_ingest=True)
    failed = [r for r in library.ingest([videos]) if r.status == "failed"]
    if failed:
        raise SystemExit(f"sample ingest failed: {failed}")
    return library


def measure(library) -> dict:
    from vidrag.agent.extractive import MIN_SIMILARITY, relevance
    from vidrag.samples.content import NEAR_MISS_QUESTIONS, RETRIEVAL_QUESTIONS, UNRELATED_QUESTIONS
    from vidrag.samples.library import shipped_qa_paths
    from vidrag.tools.video_tools import VideoTools

    tools = VideoTools(library)
    qa = [
        json.loads(line)["question"]
        for path in shipped_qa_paths()
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    answerable = [q for q, _, _ in RETRIEVAL_QUESTIONS] + qa
    score = lambda question: round(relevance(tools, question)[0], 4)  # noqa: E731
    related = {q: score(q) for q in answerable}
    unrelated = {q: score(q) for q in UNRELATED_QUESTIONS}
    near = {q: score(q) for q in NEAR_MISS_QUESTIONS}
    low, high = min(related.values()), max(unrelated.values())
    return {
        "floor": MIN_SIMILARITY,
        "answerable": {
            "n": len(related),
            "min": low,
            "median": statistics.median(related.values()),
            "max": max(related.values()),
        },
        "unrelated": {
            "n": len(unrelated),
            "min": min(unrelated.values()),
            "median": statistics.median(unrelated.values()),
            "max": high,
        },
        "gap": round(low - high, 4),
        "margin_below_answerable": round(low - MIN_SIMILARITY, 4),
        "margin_above_unrelated": round(MIN_SIMILARITY - high, 4),
        "near_misses": near,
        "search_scores": _search_scores(library, answerable, list(UNRELATED_QUESTIONS)),
        "weakest_answerable": sorted(related.items(), key=lambda kv: kv[1])[:3],
        "strongest_unrelated": sorted(unrelated.items(), key=lambda kv: -kv[1])[:3],
    }


def _search_scores(library, answerable: list[str], unrelated: list[str]) -> dict:
    """The top hit's score (`storage.fusion`'s [0, 1] relevance) per search mode, for both kinds of
    question: where a similarity cutoff (llama-index's `SimilarityPostprocessor`) can sit."""

    def spread(questions: list[str], mode: str) -> dict:
        scores = sorted(hits[0].score if (hits := library.search(q, k=1, mode=mode)) else 0.0 for q in questions)
        return {
            "min": round(scores[0], 3),
            "p10": round(scores[len(scores) // 10], 3),
            "median": round(statistics.median(scores), 3),
            "p90": round(scores[9 * len(scores) // 10], 3),
            "max": round(scores[-1], 3),
        }

    return {
        mode: {"answerable": spread(answerable, mode), "unrelated": spread(unrelated, mode)}
        for mode in ("hybrid", "dense", "sparse")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="An ingested sample library (default: build one).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        library = _library(args.home, Path(work))
        try:
            report = measure(library)
        finally:
            library.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for side in ("answerable", "unrelated"):
        r = report[side]
        print(f"{side:10s} n={r['n']:2d}  min {r['min']:.3f}  median {r['median']:.3f}  max {r['max']:.3f}")
    print(
        f"gap {report['gap']:.3f}; floor {report['floor']:.3f} leaves {report['margin_below_answerable']:.3f} "
        f"below the weakest answerable and {report['margin_above_unrelated']:.3f} above the strongest unrelated"
    )
    for q, s in report["weakest_answerable"]:
        print(f"  weakest answerable  {s:.3f}  {q}")
    for q, s in report["strongest_unrelated"]:
        print(f"  strongest unrelated {s:.3f}  {q}")
    print("top hit's search score (storage.fusion relevance): min / p10 / median / p90 / max")
    for mode, sides in report["search_scores"].items():
        for side, r in sides.items():
            print(
                f"  {mode:6s} {side:10s} " + " / ".join(f"{r[k]:.3f}" for k in ("min", "p10", "median", "p90", "max"))
            )
    for q, s in report["near_misses"].items():
        print(f"  known near miss     {s:.3f}  {q}  ({'answered' if s >= report['floor'] else 'not found'})")


if __name__ == "__main__":
    main()
