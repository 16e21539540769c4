"""The offline describer: a caption built from what can really be measured in the frames.

It counts faces (OpenCV Haar cascades), names dominant colours, rates brightness and motion, counts
shot cuts, and folds in the clip's on-screen text and speech. It never guesses at what it cannot
measure; it is the default captioner because it needs no model weights.
"""

from __future__ import annotations

import logging
from functools import cached_property

import numpy as np

from vidrag.indexing.captioners.base import Caption, Captioner, ClipFrames

log = logging.getLogger(__name__)

_COLOURS = {
    "black": (20, 20, 20),
    "white": (235, 235, 235),
    "grey": (128, 128, 128),
    "red": (200, 40, 40),
    "orange": (235, 140, 30),
    "yellow": (230, 220, 50),
    "green": (50, 160, 60),
    "blue": (40, 80, 200),
    "purple": (130, 60, 160),
    "pink": (230, 150, 180),
    "brown": (120, 80, 40),
    "sky blue": (120, 180, 235),
}
_NAMES = list(_COLOURS)
_PALETTE = np.array(list(_COLOURS.values()), dtype=np.float32)


def dominant_colours(frame: np.ndarray, top: int = 2, min_share: float = 0.15) -> list[tuple[str, float]]:
    """The named colours covering the most pixels, with their share (0–1)."""
    pixels = frame[::8, ::8].reshape(-1, 3).astype(np.float32)
    distances = ((pixels[:, None, :] - _PALETTE[None, :, :]) ** 2).sum(axis=2)
    counts = np.bincount(distances.argmin(axis=1), minlength=len(_NAMES)) / max(len(pixels), 1)
    order = np.argsort(counts)[::-1][:top]
    return [(_NAMES[i], float(counts[i])) for i in order if counts[i] >= min_share]


def brightness(frame: np.ndarray) -> float:
    """Mean luma, 0–1."""
    sample = frame[::4, ::4].astype(np.float32)
    return float((sample @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean() / 255.0)


class Describer(Captioner):
    """Offline captioner composing measured signals (see the module docstring)."""

    name = "describer"
    embed_caption = False  # its sentences are much alike across clips; search uses speech and OCR

    def __init__(self, fps: float = 0.5, max_side: int = 480, faces: bool = True) -> None:
        self.fps = fps
        self.max_side = max_side
        self.faces = faces

    @cached_property
    def _cascade(self):
        import cv2

        data = getattr(cv2, "data", None)
        if data is None or not hasattr(cv2, "CascadeClassifier"):
            log.warning("this OpenCV has no Haar cascades (pin opencv-python-headless 4.x); faces off")
            return None
        return cv2.CascadeClassifier(data.haarcascades + "haarcascade_frontalface_default.xml")

    def count_faces(self, frame: np.ndarray) -> int:
        """Frontal faces in one RGB frame (0 when face detection is off or unavailable)."""
        import cv2

        if not self.faces or self._cascade is None:
            return 0
        scale = 320 / frame.shape[1]
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1:
            gray = cv2.resize(gray, (320, max(1, round(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        found = self._cascade.detectMultiScale(gray, scaleFactor=1.15, minNeighbors=6, minSize=(24, 24))
        return len(found)

    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        return [self._describe(clip) for clip in clips]

    def ask(self, clip: ClipFrames, question: str) -> str:
        return self._describe(clip).text

    def _describe(self, clip: ClipFrames) -> Caption:
        fields: dict[str, str] = {}
        if clip.frames:
            faces = max(self.count_faces(f) for f in clip.frames)
            light = float(np.mean([brightness(f) for f in clip.frames]))
            colours = dominant_colours(clip.frames[len(clip.frames) // 2])
            fields["people"] = _faces_text(faces)
            fields["colours"] = ", ".join(name for name, _ in colours) or "mixed"
            fields["brightness"] = "dark" if light < 0.25 else "bright" if light > 0.7 else "medium"
        motion = clip.stats.get("motion")
        if motion is not None:
            fields["motion"] = "static" if motion < 0.01 else "some motion" if motion < 0.05 else "lots of motion"
        cuts = int(clip.stats.get("cuts", 0))
        if cuts:
            fields["cuts"] = f"{cuts} shot cut{'s' if cuts > 1 else ''}"
        if clip.ocr:
            fields["on_screen_text"] = clip.ocr
        fields["setting"] = _setting(fields, clip)
        text = _compose(fields, clip)
        return Caption(text=text, fields=fields, raw=text)


def _faces_text(faces: int) -> str:
    if faces == 0:
        return "no faces visible"
    return "one face visible" if faces == 1 else f"{faces} faces visible"


def _setting(fields: dict[str, str], clip: ClipFrames) -> str:
    lines = [line for line in clip.ocr.split("\n") if line.strip()]
    if len(lines) >= 2 and fields.get("motion", "static") == "static":
        return "slide or screen with text"
    if fields.get("people", "").endswith("visible") and not fields["people"].startswith("no"):
        return "person on camera"
    return "footage"


def _compose(fields: dict[str, str], clip: ClipFrames) -> str:
    parts = [f"{fields['setting'].capitalize()}"]
    if "colours" in fields:
        parts.append(f"{fields['brightness']} picture, mostly {fields['colours']}")
    if "people" in fields:
        parts.append(fields["people"])
    if "motion" in fields:
        parts.append(fields["motion"])
    if "cuts" in fields:
        parts.append(fields["cuts"])
    if not clip.transcript:
        parts.append("no speech")
    return "; ".join(parts) + "."
