"""Stand-ins for the two models the fast tier cannot afford to load: the sentence embedder and the
speech recognizer. Everything else the fast tests touch is real: decoding, OCR, the describer, the
Qdrant store, the catalog, the CLI.

`install(monkeypatch, script)` swaps them in where `vidrag.api.wiring` builds a library, so the CLI,
the REST API and `open_library` run unchanged on top of them.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from vidrag.indexing.asr import Segment, Transcript, Word
from vidrag.indexing.embed import SparseEncoder

DIM = 64


class WordHashEmbedder:
    """Each word (lower case, stripped of a plural s) adds 1 to one of `DIM` hashed dimensions, so
    texts that share words have a high cosine; the sparse half is vidrag's real BM25 encoder."""

    def __init__(self, model: str = "word-hash") -> None:
        self.model_name = model
        self.dim = DIM
        self.sparse = SparseEncoder()

    def load(self) -> None:
        """Nothing to load."""

    def dense(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = np.zeros(DIM)
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                vector[zlib.crc32(word.removesuffix("s").encode()) % DIM] += 1.0
            norm = np.linalg.norm(vector)
            out.append((vector / norm if norm else vector).tolist())
        return out

    query_dense = dense

    def prepare_queries(self) -> None:
        """Queries use `dense` itself."""


class ScriptedTranscriber:
    """Hears `script` spread evenly over any audio that has sound in it (nothing in silence), with a
    word timing for every word, like faster-whisper's word timestamps."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.model_name = self.variant = "scripted"

    def close(self) -> None:
        """Nothing to free."""

    def transcribe(self, audio: np.ndarray) -> Transcript:
        seconds = audio.size / 16000
        if seconds < 0.1 or float(np.abs(audio).max(initial=0.0)) < 1e-4:
            return Transcript(language=None, segments=[])
        words = self.script.split()
        step = seconds / len(words)
        timed = [Word(i * step, (i + 1) * step, word) for i, word in enumerate(words)]
        return Transcript("en", [Segment(0.0, seconds, self.script, timed)], speech_seconds=seconds)


def install(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """Make every library `vidrag.api.wiring` opens use the word-hash embedder and hear `script`."""
    monkeypatch.setattr("vidrag.indexing.embed.Embedder", lambda model=None, **_: WordHashEmbedder())
    monkeypatch.setattr("vidrag.indexing.asr.Transcriber", lambda model=None, **_: ScriptedTranscriber(script))
