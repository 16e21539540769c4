"""One talking-head request: the parameters the CLI, the REST API and the agent tool all pass on.

Each front end fills a `TalkingHeadRequest` from what it accepts (typer options, a JSON body, a tool
call) and hands it to `generate_talking_head`; background jobs store it as `to_dict()` and rebuild it
with `from_dict`. Motion parameters become the pipeline's `MotionSettings`; the rest choose the
model, voice, device and lip sync.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidrag.storage.errors import InputError
from vidrag.tools.evidence import JSON
from vidrag.tools.talking_head.framepack import get_variant
from vidrag.tools.talking_head.pipeline import DEFAULT_PROMPT, MotionSettings

TINY_AREA = 64 * 64
DEFAULT_AREA = 640 * 640


@dataclass(frozen=True)
class TalkingHeadRequest:
    """A portrait and a script, and how to turn them into a video.

    Attributes:
        image: portrait image path (PNG/JPEG), or a video path when `frame_time` is set.
        script: the exact words the person says.
        frame_time: seconds into the video given as `image` to take the portrait from.
        seed: random seed; the same seed and inputs give the same video.
        steps: denoising steps per section; 25 is FramePack's default, fewer is faster and rougher.
        variant: `framepack` (holds the face steady) or `framepack-f1` (forward sampling).
        voice: `espeak`, `espeak:<voice>` (e.g. `espeak:en-gb`) or `transformers:<model id>`.
        fps: frames per second of the video.
        width: video width, a multiple of 16; None = chosen from the portrait's shape.
        height: video height, a multiple of 16; None = chosen from the portrait's shape.
        target_area: pixels per frame aimed at when choosing the size; None = 640*640 (tiny: 64*64).
        latent_window_size: latent frames per FramePack section (9 in FramePack).
        prompt: how the person should move.
        device: `cuda`, `cuda:N` or `cpu`; None = CUDA if present.
        memory_mode: `none`, `model_cpu_offload` or `group_offload`; None = chosen from free GPU memory.
        allow_cpu: run the real model on a CPU anyway (hours).
        lipsync_command: external lip-sync command with `{video}`, `{audio}`, `{out}` placeholders.
        tiny: tiny random weights (a noise video through the real pipeline code; no download).
        cache_dir: Hugging Face cache folder holding the weights.
    """

    image: str
    script: str
    frame_time: float | None = None
    seed: int = 0
    steps: int = 25
    variant: str = "framepack"
    voice: str = "espeak"
    fps: float = 30.0
    width: int | None = None
    height: int | None = None
    target_area: int | None = None
    latent_window_size: int = 9
    prompt: str = DEFAULT_PROMPT
    device: str | None = None
    memory_mode: str | None = None
    allow_cpu: bool = False
    lipsync_command: str | None = None
    tiny: bool = False
    cache_dir: str | None = None

    @property
    def portrait(self) -> str | tuple[str, float]:
        """What the pipeline loads the portrait from: an image path or a (video path, seconds) pair."""
        return (self.image, float(self.frame_time)) if self.frame_time is not None else self.image

    def motion(self) -> MotionSettings:
        """The pipeline's motion settings for this request.

        Raises:
            InputError: an unknown variant.
        """
        area = self.target_area or (TINY_AREA if self.tiny else DEFAULT_AREA)
        return MotionSettings(
            seed=self.seed,
            steps=self.steps,
            fps=self.fps,
            latent_window_size=self.latent_window_size,
            width=self.width,
            height=self.height,
            target_area=area,
            sampling=get_variant(self.variant).sampling,
            prompt=self.prompt,
        )

    def to_dict(self) -> dict[str, JSON]:
        """JSON-ready fields (a job stores its request this way)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TalkingHeadRequest:  # Any: stored JSON, handed to the fields as is
        """Rebuild a request from `to_dict()` output.

        Raises:
            InputError: a field that requests do not have.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"Unknown talking-head parameters {unknown}; known: {sorted(known)}.")
        return cls(**{**data, "image": str(data.get("image", ""))})
