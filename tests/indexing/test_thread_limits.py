"""Speech survives the thread limits a user's shell may carry, whichever of OCR and ASR starts first,
and speech the model loses is reported, never stored as silence.

CTranslate2 (faster-whisper) returns empty transcripts when OMP_THREAD_LIMIT=1 is in the process
environment and it was given two threads. Each case runs in a fresh interpreter, because the OpenMP
runtime reads the environment once, when it starts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import media
from vidrag.indexing.asr import Segment, Transcript, Word, asr_threads
from vidrag.indexing.ocr import OcrReader, tesseract_env

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "Welcome to the budget meeting. Today we review the quarterly numbers and the hiring plan."
EXPECTED = ("budget", "quarterly", "hiring")

# Reads one video in the order given on the command line ("ocr" then "asr", or the reverse) and
# prints the transcript, the OCR lines and the process environment's thread variables as JSON.
_PROBE = """
import json, os, sys
from vidrag.indexing.asr import Transcriber
from vidrag.indexing.media import iter_frames, load_audio, probe
from vidrag.indexing.ocr import OcrReader

path, order = sys.argv[1], sys.argv[2].split(",")
info = probe(path)
out = {}
for step in order:
    if step == "ocr":
        _, frame = next(iter_frames(path, info))
        out["ocr"] = OcrReader().read(frame)
    else:
        transcriber = Transcriber(threads=int(sys.argv[3]))
        out["threads"] = transcriber.threads
        out["transcript"] = transcriber.transcribe(load_audio(path, info)).text_between(0, info.duration)
out["env"] = {k: v for k, v in os.environ.items() if k.startswith("OMP_")}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory):
    return media.speech_video(tmp_path_factory.mktemp("limits"), sentence=SENTENCE, text="Hiring Plan")


def _run(video: Path, order: str, threads: int = 2, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(video), order, str(threads)],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_users_thread_limit_does_not_silence_speech(speech_video):
    """OMP_THREAD_LIMIT=1 in the shell, two threads asked for: the words are still read."""
    out = _run(speech_video, "asr", threads=2, OMP_THREAD_LIMIT="1")
    assert out["threads"] == 1
    assert all(word in out["transcript"].lower() for word in EXPECTED), out["transcript"]


@pytest.mark.slow
@pytest.mark.parametrize("order", ["ocr,asr", "asr,ocr"])
def test_ocr_and_asr_in_either_order_give_the_same_transcript(speech_video, order):
    out = _run(speech_video, order)
    assert out["env"] == {}, "vidrag changed the process environment"
    assert all(word in out["transcript"].lower() for word in EXPECTED), out["transcript"]
    assert any("Hiring Plan" in line for line in out["ocr"])
    reference = _run(speech_video, "asr")
    assert out["transcript"] == reference["transcript"]


def test_ocr_limits_threads_in_its_own_subprocess_only(monkeypatch):
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    reader = OcrReader()
    frame = np.full((120, 480, 3), 255, dtype=np.uint8)
    assert reader.read(frame) == []
    assert "OMP_THREAD_LIMIT" not in os.environ
    assert tesseract_env(1)["OMP_THREAD_LIMIT"] == "1"


def test_asr_threads_respect_the_environment(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    assert asr_threads(2) == 1 and asr_threads(0) == 1
    monkeypatch.setenv("OMP_THREAD_LIMIT", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")
    assert asr_threads(4) == 2
    monkeypatch.delenv("OMP_THREAD_LIMIT")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert asr_threads(3) == 3


def test_a_transcript_with_too_few_words_for_its_speech_is_lost_speech():
    silent = Transcript(language=None, segments=[], speech_seconds=0.4)
    assert silent.lost_speech() is None
    empty = Transcript(language=None, segments=[], speech_seconds=6.0)
    assert "6.0 s of speech" in empty.lost_speech() and "0 words" in empty.lost_speech()
    garbled = Transcript("en", [Segment(0.0, 6.0, "To These", [Word(0, 1, " To"), Word(2, 3, " These")])], 6.0)
    assert "2 words" in garbled.lost_speech()
    words = [Word(i * 0.4, i * 0.4 + 0.3, " word") for i in range(15)]
    assert Transcript("en", [Segment(0.0, 6.0, "word " * 15, words)], 6.0).lost_speech() is None
    assert Transcript.from_dict(empty.to_dict()).speech_seconds == 6.0
