"""On-screen text, read only when the picture changed: tesseract or rapidocr (PP-OCR models).

Two backends read frames into text lines, chosen by name with `make_ocr` (`VIDRAG_OCR`):
`tesseract` (Debian's tesseract-ocr, strong on rendered slides and subtitles) and `rapidocr` (PP-OCR
detection + recognition ONNX models shipped inside the rapidocr wheel, which also reads photographed
text: signs, labels, whiteboards). Lines are kept when the reader is confident about them, a slide
title wrapped over two lines is joined back into one (`join_wrapped_headings`), and lines are
de-duplicated across frames so a slide that stays up for a minute contributes its text once per clip.

tesseract runs as a subprocess with its own environment: one OpenMP thread (3x faster on few cores)
is set for that subprocess only. The limit is never put into this process's environment, where
CTranslate2 (faster-whisper) would read it and, with more threads than the limit, return empty
transcripts.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from vidrag.storage.errors import BackendUnavailable, InputError

log = logging.getLogger(__name__)

_WORDY = re.compile(r"[A-Za-z0-9]{2,}")


def tesseract_env(threads: int = 1) -> dict[str, str]:
    """The environment a tesseract subprocess runs with: this process's, plus its thread limit."""
    return {**os.environ, "OMP_THREAD_LIMIT": str(threads)}


def _languages(binary: str) -> set[str]:
    done = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, check=False, timeout=30)
    return {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()}


OCR_BACKENDS = ("tesseract", "rapidocr", "off")


class TextReader(Protocol):
    """What the ingest needs from an OCR backend: its name (for the settings key) and one method."""

    name: str

    def read(self, frame: np.ndarray) -> list[str]:
        """Text lines found in one RGB frame, top to bottom."""
        ...


class OcrReader:
    """Reads text lines from frames with tesseract.

    Args:
        lang: tesseract language codes, e.g. "eng" or "eng+deu" (install tesseract-ocr-deu).
        min_confidence: words under this confidence (0–100) are dropped.
        max_side: frames are scaled down so their longest side is at most this.
        threads: OpenMP threads for each tesseract run (its own environment, not this process's).
        timeout: seconds one frame may take before it is given up.
    """

    name = "tesseract"

    def __init__(
        self,
        lang: str = "eng",
        min_confidence: float = 60.0,
        max_side: int = 1280,
        threads: int = 1,
        timeout: float = 60.0,
    ) -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise BackendUnavailable(
                "tesseract is not installed; run `apt-get install tesseract-ocr` "
                "(or set VIDRAG_OCR=rapidocr or VIDRAG_OCR=off)."
            )
        self.binary = binary
        missing = [code for code in lang.split("+") if code not in _languages(binary)]
        if missing:
            raise BackendUnavailable(
                f"tesseract has no language data for {', '.join(missing)}; install it "
                f"(`apt-get install {' '.join('tesseract-ocr-' + code for code in missing)}`) or set VIDRAG_OCR_LANG."
            )
        self.lang = lang
        self.min_confidence = min_confidence
        self.max_side = max_side
        self.timeout = timeout
        self._env = tesseract_env(threads)

    def read(self, frame: np.ndarray) -> list[str]:
        """Text lines found in one RGB frame, top to bottom.

        Raises:
            InputError: tesseract failed on the frame (e.g. a language pack is missing).
        """
        from PIL import Image

        image = Image.fromarray(frame).convert("L")
        scale = self.max_side / max(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        picture = io.BytesIO()
        image.save(picture, format="PPM")  # uncompressed: cheap to write, read by leptonica
        words: dict[tuple[int, int, int], list[dict[str, str]]] = {}
        for row in self._tsv(picture.getvalue()):
            if not row["text"].strip() or float(row["conf"]) < self.min_confidence:
                continue
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            words.setdefault(key, []).append(row)
        lines = [_tesseract_line(key[:2], rows) for key, rows in sorted(words.items())]
        return [line for line in join_wrapped_headings(lines) if _WORDY.search(line)]

    def _tsv(self, picture: bytes) -> list[dict[str, str]]:
        """tesseract's TSV rows (one per page, block, paragraph, line and word) for an image."""
        done = subprocess.run(
            [self.binary, "stdin", "stdout", "-l", self.lang, "--psm", "3", "tsv"],
            input=picture,
            capture_output=True,
            env=self._env,
            timeout=self.timeout,
            check=False,
        )
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            raise InputError(
                f"tesseract failed (exit {done.returncode}): {detail[-1] if detail else 'no message'}; "
                f"check that the language pack for {self.lang!r} is installed (tesseract --list-langs)."
            )
        text = done.stdout.decode("utf-8", errors="replace")
        return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


class RapidOcrReader:
    """Reads text lines from frames with rapidocr's PP-OCR models (detection, angle, recognition).

    The models are the ONNX files inside the rapidocr wheel, passed by path so rapidocr never looks
    for a download. onnxruntime's thread counts are set on its sessions, not in the environment.

    Args:
        min_score: lines recognised with a lower score (0–1) are dropped.
        max_side: frames are scaled down so their longest side is at most this.
        threads: onnxruntime intra-op threads per model.

    Raises:
        BackendUnavailable: rapidocr or onnxruntime is not installed.
    """

    name = "rapidocr"

    def __init__(self, min_score: float = 0.6, max_side: int = 1280, threads: int = 1) -> None:
        try:
            import onnxruntime  # noqa: F401 - rapidocr's default engine, a separate install
            import rapidocr
        except ImportError as err:
            raise BackendUnavailable(
                f"The rapidocr OCR backend is not installed ({err.name} is missing); run "
                "`pip install 'vidrag[rapidocr]'`, or set VIDRAG_OCR=tesseract."
            ) from err
        folder = Path(rapidocr.__file__).parent / "models"
        models = {
            "Det": folder / "PP-OCRv6_det_small.onnx",
            "Rec": folder / "PP-OCRv6_rec_small.onnx",
            "Cls": folder / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        }
        missing = [path for path in models.values() if not path.is_file()]
        if missing:
            raise BackendUnavailable(
                f"rapidocr ships no model at {missing[0]}; install the pinned release "
                "(`pip install 'vidrag[rapidocr]'`)."
            )
        params = {
            "Global.log_level": "error",  # not a warning per frame without text
            **{f"{stage}.model_path": str(path) for stage, path in models.items()},
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self.engine = rapidocr.RapidOCR(params=params)
        self.min_score = min_score
        self.max_side = max_side

    def read(self, frame: np.ndarray) -> list[str]:
        """Text lines found in one RGB frame, top to bottom, left to right."""
        scale = self.max_side / max(frame.shape[:2])
        if scale < 1:
            from PIL import Image

            size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
            frame = np.asarray(Image.fromarray(frame).resize(size))
        result = self.engine(np.ascontiguousarray(frame))
        # a whole-pipeline call returns RapidOCROutput; the per-step output types have no txts
        texts, scores = getattr(result, "txts", None) or (), getattr(result, "scores", None) or ()
        kept = [(text.strip(), i) for i, (text, score) in enumerate(zip(texts, scores)) if score >= self.min_score]
        boxes = getattr(result, "boxes", None)
        if boxes is None or len(boxes) != len(texts):
            found = [text for text, _ in kept]
        else:
            found = join_wrapped_headings([_box_line(text, boxes[i]) for text, i in kept if text])
        return [line for line in found if _WORDY.search(line)]


HEADING_SIZE = 1.25
"""A line whose letters are at least this much wider than the frame's median line's is a heading."""
WRAP_RATIO = 1.4
"""The two halves of a wrapped heading differ in letter width by at most this factor."""


class TextLine(NamedTuple):
    """One line a reader found, with its box in pixels; `group` is the reader's paragraph, if any."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    group: tuple[int, ...] = ()

    @property
    def size(self) -> float:
        """The font size, as pixels of width a character: boxes' heights change with descenders
        ("Bridge" is taller than "Start") and with how much a reader pads them, widths far less."""
        return (self.right - self.left) / max(len(self.text), 1)


def join_wrapped_headings(lines: list[TextLine]) -> list[str]:
    """The lines' texts, top to bottom, with a heading wrapped over two or more lines joined into one.

    A slide title too long for one line is laid out as two ("Congestion Control and Slow" / "Start");
    read apart, the second half is a one-word line that is neither quoted nor searched as what it is.
    A line continues the one above when both are heading-sized (`HEADING_SIZE` times the frame's
    median line), of about the same size (`WRAP_RATIO`), in the same paragraph, no further apart than
    a line's height, and aligned left or centred. Body text is left as it is: bullets of one size
    stacked at equal distances cannot be told from a wrapped bullet by their boxes alone. A frame with
    fewer than three lines, or one where headings are most of the lines (a slide building up, its title
    shown first), has no body to measure against and is left as read.
    """
    if len(lines) < 3:
        return [line.text for line in lines]
    body = statistics.median(line.size for line in lines)
    joined: list[TextLine] = []
    for line in lines:
        above = joined[-1] if joined else None
        if above is not None and _continues(above, line, body):
            joined[-1] = above._replace(
                text=f"{above.text} {line.text}",
                left=min(above.left, line.left),
                right=max(above.right, line.right),
                bottom=line.bottom,
            )
        else:
            joined.append(line)
    return [line.text for line in joined]


def _continues(above: TextLine, line: TextLine, body: float) -> bool:
    small, large = sorted((above.size, line.size))
    if above.group != line.group or small < HEADING_SIZE * body or large > WRAP_RATIO * small:
        return False
    height = line.bottom - line.top
    if not -height / 2 <= line.top - above.bottom <= height:
        return False
    centres = abs((above.left + above.right) - (line.left + line.right)) / 2
    return min(abs(above.left - line.left), centres) <= height / 2


def _tesseract_line(group: tuple[int, ...], words: list[dict[str, str]]) -> TextLine:
    """A tesseract line from its word rows (TSV level 5)."""
    left = min(int(w["left"]) for w in words)
    top = min(int(w["top"]) for w in words)
    right = max(int(w["left"]) + int(w["width"]) for w in words)
    bottom = max(int(w["top"]) + int(w["height"]) for w in words)
    return TextLine(" ".join(w["text"].strip() for w in words), left, top, right, bottom, group)


def _box_line(text: str, box) -> TextLine:
    """A rapidocr line from its four-corner box."""
    points = np.asarray(box, dtype=float).reshape(-1, 2)
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    return TextLine(text, float(left), float(top), float(right), float(bottom))


def make_ocr(backend: str, lang: str = "eng") -> TextReader | None:
    """The OCR reader for a backend name (`VIDRAG_OCR`); None for "off".

    Args:
        backend: tesseract | rapidocr | off.
        lang: tesseract language codes (rapidocr's models read Latin script and Chinese).

    Raises:
        InputError: an unknown backend name.
        BackendUnavailable: the backend is not installed.
    """
    if backend == "tesseract":
        return OcrReader(lang)
    if backend == "rapidocr":
        return RapidOcrReader()
    if backend == "off":
        return None
    raise InputError(f"Unknown OCR backend {backend!r}; set VIDRAG_OCR to one of {', '.join(OCR_BACKENDS)}.")


def ocr_key(reader: TextReader | None) -> str:
    """The OCR reader's part of the ingest settings key, so a video read by another backend is redone.

    Off and tesseract keep the values stored before backends had names ("False", "True"), so
    libraries indexed then are not redone; any other backend is keyed by its name.
    """
    if reader is None:
        return "False"
    return "True" if reader.name == "tesseract" else reader.name


def merge_lines(groups: list[list[str]]) -> list[str]:
    """Lines from several frames, each distinct line once, in first-seen order (case and space folded)."""
    seen: set[str] = set()
    out: list[str] = []
    for lines in groups:
        for line in lines:
            key = " ".join(line.lower().split())
            if key and key not in seen:
                seen.add(key)
                out.append(line)
    return out
