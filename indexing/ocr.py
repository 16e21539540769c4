"""On-screen text with tesseract (through pytesseract), read only when the picture changed.

Lines are kept when tesseract is confident about their words, and de-duplicated across frames so a
slide that stays up for a minute contributes its text once per clip.
"""

from __future__ import annotations

import logging
import os
import re
import shutil

import numpy as np

from storage.errors import BackendUnavailable

log = logging.getLogger(__name__)

_WORDY = re.compile(r"[A-Za-z0-9]{2,}")


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


class OcrReader:
    """Reads text lines from frames with tesseract.

    Args:
        lang: tesseract language codes, e.g. "eng" or "eng+deu" (install tesseract-ocr-deu).
        min_confidence: words under this confidence (0–100) are dropped.
        max_side: frames are scaled down so their longest side is at most this.
    """

    def __init__(self, lang: str = "eng", min_confidence: float = 60.0, max_side: int = 1280) -> None:
        if not tesseract_available():
            raise BackendUnavailable(
                "tesseract is not installed; run `apt-get install tesseract-ocr` (or set VIDRAG_OCR=false)."
            )
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # 3x faster on few cores
        self.lang = lang
        self.min_confidence = min_confidence
        self.max_side = max_side

    def read(self, frame: np.ndarray) -> list[str]:
        """Text lines found in one RGB frame, top to bottom."""
        import pytesseract
        from PIL import Image

        image = Image.fromarray(frame).convert("L")
        scale = self.max_side / max(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        data = pytesseract.image_to_data(
            image, lang=self.lang, config="--psm 3", output_type=pytesseract.Output.DICT
        )
        lines: dict[tuple[int, int, int], list[str]] = {}
        for i, word in enumerate(data["text"]):
            word = word.strip()
            if not word or float(data["conf"][i]) < self.min_confidence:
                continue
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(word)
        out = [" ".join(words) for _, words in sorted(lines.items())]
        return [line for line in out if _WORDY.search(line)]


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
