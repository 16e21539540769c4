"""Retrieval quality on the generated library: paraphrased questions find the right segment.

The questions avoid the slides' and narration's words; the text searched is what the embedded
default really produced (Whisper tiny.en transcripts with their errors, tesseract OCR, the describer).
"""

import json
from pathlib import Path

from vidrag.samples.library import RETRIEVAL_QUESTIONS


def _rank(hits, file: str, span: tuple[float, float]) -> int | None:
    for rank, hit in enumerate(hits, 1):
        middle = (hit.start + hit.end) / 2
        if Path(hit.video).name == file and span[0] <= middle < span[1]:
            return rank
    return None


def test_paraphrased_questions_find_their_segment(sample_library, sample_dir):
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    segments = {v["file"]: v["segments"] for v in manifest["videos"] if v.get("kind") == "lecture"}
    assert sum(len(s) for s in segments.values()) >= 12
    ranks = []
    for question, file, index in RETRIEVAL_QUESTIONS:
        seg = segments[file][index]
        hits = sample_library.search(question, k=5)
        ranks.append((question, _rank(hits, file, (seg["start"], seg["end"]))))
    at_one = sum(rank == 1 for _, rank in ranks) / len(ranks)
    missing = [q for q, rank in ranks if rank is None]
    print(f"rank-1 {at_one:.0%} over {len(ranks)} questions; outside top 5: {missing}")
    assert at_one >= 0.8, ranks
    assert not missing, ranks


def test_every_segment_is_covered_by_questions():
    covered = {(file, index) for _, file, index in RETRIEVAL_QUESTIONS}
    from vidrag.samples.library import LECTURES

    expected = {(lecture.file, i) for lecture in LECTURES for i in range(len(lecture.segments))}
    assert expected <= covered
