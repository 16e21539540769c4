"""The captioner interface: a batch of clips' frames in, one caption per clip out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ClipFrames:
    """The frames of one clip as a captioner sees them, with the clip's other signals.

    Attributes:
        video_id: the video's id.
        start: clip start, seconds in source time.
        end: clip end, seconds in source time.
        frames: RGB uint8 arrays (H, W, 3), in time order.
        times: source time of each frame, seconds.
        transcript: what is said in the clip (may be empty).
        ocr: on-screen text found in the clip (may be empty).
        stats: measurements made while decoding (motion, cuts, faces...), for captioners that use them.
    """

    video_id: str
    start: float
    end: float
    frames: list[np.ndarray]
    times: list[float]
    transcript: str = ""
    ocr: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Caption:
    """A caption: display text, parsed fields (kept in the payload), and the raw model output."""

    text: str
    fields: dict[str, str] = field(default_factory=dict)
    raw: str = ""


class Captioner(ABC):
    """Turns clips into captions. Subclasses implement `caption`; the rest has working defaults.

    Attributes:
        name: registry name.
        fps: frames per second of video the captioner wants for each clip.
        max_side: longest side, in pixels, of the frames it wants (frames are resized to fit).
        embed_caption: whether captions carry content worth embedding for search (a model's
            description does; generic measurements would only dilute the clip's own words).
        uses_gpu: runs its model on this machine's GPU: an executor gives each caption worker one
            GPU and checks the model on that worker.
        parallel_workers: caption workers worth running when it uses no GPU (a client of a server
            keeps several busy; a local model on the CPU, one).
    """

    name: str = "captioner"
    embed_caption: bool = True
    fps: float = 1.0
    max_side: int = 448
    uses_gpu: bool = False
    parallel_workers: int = 1

    def clips_per_chunk(self, requested: int = 0) -> int:
        """Clips the caption stage hands to `caption` at once; `requested` is the user's clips per call
        (VIDRAG_CAPTIONER_BATCH, 0 = automatic). Default: what was asked, at least one."""
        return max(1, requested)

    @abstractmethod
    def caption(self, clips: list[ClipFrames]) -> list[Caption]:
        """One caption per clip, in order."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise now (BackendUnavailable, ModelMissing) if this captioner could not start. Default: nothing to check."""

    def ask(self, clip: ClipFrames, question: str) -> str:
        """Answer a question about a clip's frames. Default: caption it and return the text."""
        return self.caption([clip])[0].text

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free models and connections. Default: nothing to free."""

    def describe(self) -> dict[str, Any]:
        """What is configured, for `/ready` and run metadata."""
        return {"name": self.name, "fps": self.fps, "max_side": self.max_side}
