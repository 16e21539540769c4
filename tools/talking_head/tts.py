"""Text to speech for talking heads: a `Voice` turns a script into a WAV file.

`Voice` has one abstract method, `synthesize`. `EspeakVoice` (the default) runs the espeak-ng
program and works offline with no model; `TransformersVoice` runs a transformers text-to-speech
model (e.g. `facebook/mms-tts-eng`) loaded lazily on first use. `make_voice("espeak:en-gb")` or
`make_voice("transformers:facebook/mms-tts-eng")` picks one by name, so configuration can select it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import wave
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.storage.errors import BackendUnavailable, InputError, ModelMissing
from vidrag.tools.evidence import JSON

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from transformers import Pipeline

logger = logging.getLogger(__name__)


def wav_duration(path: Path | str) -> float:
    """Length of a PCM WAV file in seconds.

    Raises:
        InputError: the file is not a readable WAV.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            return handle.getnframes() / float(handle.getframerate())
    except (OSError, wave.Error, EOFError) as err:
        raise InputError(f"Cannot read WAV file {path}: {err}; give a PCM .wav file.") from err


def write_wav(path: Path | str, samples: ArrayLike, rate: int) -> Path:
    """Write mono float samples in [-1, 1] as 16-bit PCM WAV."""
    import numpy as np

    data = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(rate))
        handle.writeframes((data * 32767.0).astype("<i2").tobytes())
    return Path(path)


class Voice(ABC):
    """Speaks a script into a WAV file. Subclasses implement `synthesize`.

    Attributes:
        name: registry name.
    """

    name: str = "voice"

    @abstractmethod
    def synthesize(self, text: str, out: Path) -> Path:
        """Write `text` spoken as a WAV file at `out` and return `out`."""

    def describe(self) -> dict[str, JSON]:
        """What is configured, for the sidecar metadata."""
        return {"name": self.name}


class EspeakVoice(Voice):
    """espeak-ng through a subprocess: offline, instant, robotic.

    Args:
        voice: espeak-ng voice name (`espeak-ng --voices` lists them), e.g. `en-us`, `en-gb`, `de`.
        speed: words per minute (espeak-ng's default is 175).
        pitch: 0-99, or None for the voice's default.
        binary: the program to run.
    """

    name = "espeak"

    def __init__(self, voice: str = "en-us", speed: int = 160, pitch: int | None = None, binary: str = "espeak-ng"):
        if not 80 <= speed <= 450:
            raise InputError(f"espeak-ng speed must be 80-450 words per minute, got {speed}.")
        self.voice, self.speed, self.pitch, self.binary = voice, speed, pitch, binary

    def synthesize(self, text: str, out: Path) -> Path:
        """Speak `text` into `out` (WAV).

        Raises:
            InputError: empty text.
            BackendUnavailable: espeak-ng is not installed or failed.
        """
        if not text.strip():
            raise InputError("The script is empty; give the words the person should say.")
        program = shutil.which(self.binary)
        if program is None:
            raise BackendUnavailable(
                f"{self.binary} is not installed; install it (Debian/Ubuntu: `apt-get install espeak-ng`) "
                "or choose another voice."
            )
        out = Path(out)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
            handle.write(text)
        command = [program, "-v", self.voice, "-s", str(self.speed), "-w", str(out), "-f", handle.name]
        if self.pitch is not None:
            command[1:1] = ["-p", str(self.pitch)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        finally:
            Path(handle.name).unlink(missing_ok=True)
        if result.returncode != 0 or not out.exists() or out.stat().st_size <= 44:
            raise BackendUnavailable(
                f"espeak-ng failed (exit {result.returncode}) with voice {self.voice!r}: "
                f"{result.stderr.strip()[-300:]}; check the voice name with `espeak-ng --voices`."
            )
        return out

    def describe(self) -> dict[str, JSON]:
        return {"name": self.name, "voice": self.voice, "speed": self.speed, "pitch": self.pitch}


class TransformersVoice(Voice):
    """A transformers text-to-speech model (VITS/MMS, SpeechT5 with embeddings, Bark...), loaded lazily.

    Args:
        model: hub id or local folder, e.g. `facebook/mms-tts-eng`.
        device: torch device for the model.
        cache_dir: Hugging Face cache folder, None for the default.
    """

    name = "transformers"

    def __init__(self, model: str = "facebook/mms-tts-eng", device: str = "cpu", cache_dir: str | None = None):
        self.model, self.device, self.cache_dir = model, device, cache_dir
        self._pipe: Pipeline | None = None

    def _load(self) -> Pipeline:
        if self._pipe is None:
            if not Path(self.model).is_dir() and not _hub_cached(self.model, self.cache_dir):
                raise ModelMissing(_tts_missing(self.model))
            from transformers import pipeline

            try:
                self._pipe = pipeline(
                    "text-to-audio", model=self.model, device=self.device, model_kwargs={"cache_dir": self.cache_dir}
                )
            except OSError as err:
                raise ModelMissing(_tts_missing(self.model) + f" ({err})") from err
        return self._pipe

    def synthesize(self, text: str, out: Path) -> Path:
        """Speak `text` into `out` (WAV) with the model.

        Raises:
            InputError: empty text.
            ModelMissing: the model's weights are not downloaded.
        """
        if not text.strip():
            raise InputError("The script is empty; give the words the person should say.")
        result = self._load()(text)
        return write_wav(out, result["audio"], result["sampling_rate"])

    def describe(self) -> dict[str, JSON]:
        return {"name": self.name, "model": self.model, "device": self.device}


def _hub_cached(repo_id: str, cache_dir: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir), str)


def _tts_missing(model: str) -> str:
    return (
        f"Text-to-speech model {model!r} is not downloaded; fetch it with "
        f"`huggingface-cli download {model}`, or use the offline voice 'espeak'."
    )


VOICES: dict[str, type[Voice]] = {"espeak": EspeakVoice, "transformers": TransformersVoice}


def make_voice(spec: str = "espeak", **options: str | int | None) -> Voice:
    """Build a voice from a name: `espeak`, `espeak:<voice>`, `transformers:<model id>`.

    Args:
        spec: the registry name, optionally with `:` and the espeak voice or model id.
        **options: passed to the class (e.g. `speed=140`, `device="cuda"`).

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    name, _, arg = spec.partition(":")
    if name not in VOICES:
        raise InputError(f"Unknown voice {spec!r}; use one of {sorted(VOICES)} (e.g. 'espeak:en-gb').")
    if arg:
        options.setdefault("voice" if name == "espeak" else "model", arg)
    return VOICES[name](**options)
