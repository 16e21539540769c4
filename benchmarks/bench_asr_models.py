"""Speech models compared on the sample narration: word error rate and speed, one run, one table.

Builds the sample lectures (both sets: `LECTURES` and the held-out `HELD_OUT`, seven espeak-ng
voice/rate combinations in all), transcribes every lecture's audio with each model through vidrag's
own `Transcriber` (same decoding settings as ingest), and scores the words against the narration text
the lectures were spoken from with jiwer. Text is lower-cased and stripped of punctuation on both
sides, and digits in the transcript are spelled out (Whisper writes "2006" where the narration says
"two thousand six"), so a number written the other way is not counted as an error. Speed is
media seconds transcribed per wall-clock second (model already loaded, CPU int8, the threads vidrag
uses). With `--ingest` it also ingests the lectures once per model and reports whole-ingest speed.
`--batches 0 4` measures each model decoding one speech chunk after another (0, ingest's default) and
four at a time through faster-whisper's batched pipeline (`VIDRAG_ASR_BATCH`).

    python benchmarks/bench_asr_models.py [--models tiny.en base] [--batches 0 4] [--ingest] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def spell(number: int) -> str:
    """English words for 0 ≤ number < 1,000,000 ("two hundred and thirty")."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" and {spell(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{spell(thousands)} thousand" + (f" {spell(rest)}" if rest else "")


def normalise(text: str) -> str:
    """Lower case, digits spelled out, ordinals' suffixes and punctuation dropped, hyphens as spaces."""
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", r"\1", text.lower())
    text = re.sub(r"\d+", lambda m: f" {spell(int(m.group()))} " if int(m.group()) < 10**6 else m.group(), text)
    text = re.sub(r"[-\u2013\u2014]", " ", text)
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text).split())


def _lectures(work: Path) -> list[tuple[Path, str, float]]:
    """(video, narration text, duration) of every sample lecture, built into `work`."""
    from vidrag.samples.library import HELD_OUT, LECTURES, build_sample_library

    manifest = build_sample_library(work / "videos", include_real=False)
    texts = {lecture.file: " ".join(s.narration for s in lecture.segments) for lecture in LECTURES + HELD_OUT}
    return [(work / "videos" / v["file"], texts[v["file"]], v["duration"]) for v in manifest["videos"]]


def measure_model(model: str, lectures: list[tuple[Path, str, float]], batch: int = 0) -> dict:
    """WER over all lectures (and per lecture) and transcription speed for one model and batch size."""
    import jiwer

    from vidrag.indexing.asr import Transcriber
    from vidrag.indexing.media import load_audio

    transcriber = Transcriber(model, batch=batch)
    began = time.perf_counter()
    transcriber._load()
    load_s = time.perf_counter() - began
    refs, hyps, per_video, busy, media = [], [], {}, 0.0, 0.0
    for path, narration, duration in lectures:
        audio = load_audio(path)
        began = time.perf_counter()
        transcript = transcriber.transcribe(audio)
        busy += time.perf_counter() - began
        media += duration
        ref, hyp = normalise(narration), normalise(" ".join(s.text for s in transcript.segments))
        refs.append(ref)
        hyps.append(hyp)
        per_video[path.name] = round(jiwer.wer(ref, hyp), 4)
    transcriber.close()
    return {
        "model": model,
        "batch": batch,
        "wer": round(jiwer.wer(refs, hyps), 4),
        "per_video": per_video,
        "media_s": round(media, 1),
        "asr_s": round(busy, 2),
        "media_s_per_s": round(media / busy, 2),
        "load_s": round(load_s, 2),
        "threads": transcriber.threads,
    }


def measure_ingest(model: str, videos: Path, work: Path, batch: int = 0) -> dict:
    """Whole ingest of the lectures with this model: media seconds per second and the ASR stage's share."""
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library

    home = work / f"home-{model.replace('/', '_')}-{batch}"
    library = open_library(Settings(home=home, asr_model=model, asr_batch=batch), for_ingest=True)
    began = time.perf_counter()
    try:
        results = library.ingest([videos])
    finally:
        library.store.close()
    wall = time.perf_counter() - began
    media = sum(r.duration for r in results)
    asr = sum(r.timings.get("asr", 0.0) for r in results)
    return {
        "ingest_wall_s": round(wall, 1),
        "ingest_media_s_per_s": round(media / wall, 2),
        "ingest_asr_s": round(asr, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["tiny.en", "base"],
        help="VIDRAG_ASR_MODEL values to compare (default: tiny.en base).",
    )
    parser.add_argument(
        "--batches", nargs="+", type=int, default=[0], help="VIDRAG_ASR_BATCH values to measure per model."
    )
    parser.add_argument("--ingest", action="store_true", help="Also time a whole ingest per model.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lectures = _lectures(work)
        rows = []
        for model in args.models:
            for batch in args.batches:
                row = measure_model(model, lectures, batch)
                if args.ingest:
                    row.update(measure_ingest(model, work / "videos", work, batch))
                rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{len(lectures)} lectures, {rows[0]['media_s']:.0f} s of narration, {os.cpu_count()} CPUs, "
        f"{rows[0]['threads']} ASR threads"
    )
    print("| model | batch | WER | media s per s (ASR) | load s |" + (" ingest media s per s |" if args.ingest else ""))
    print("|---|---|---|---|---|" + ("---|" if args.ingest else ""))
    for row in rows:
        tail = f" {row['ingest_media_s_per_s']:.1f} |" if args.ingest else ""
        print(
            f"| {row['model']} | {row['batch']} | {row['wer']:.3f} | {row['media_s_per_s']:.1f} | "
            f"{row['load_s']:.1f} |{tail}"
        )
    for row in rows:
        print(
            f"{row['model']} batch {row['batch']}: "
            + ", ".join(f"{name} {wer:.3f}" for name, wer in row["per_video"].items())
        )


if __name__ == "__main__":
    main()
