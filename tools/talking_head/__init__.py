"""Talking-head generation: a portrait and a script in, an mp4 of that person speaking it out.

FramePack (diffusers' HunyuanVideoFramepackPipeline) animates the portrait; it takes no audio, so a
text-to-speech voice is made first and sets the video's length. `generate_talking_head` is the agent
tool and the function behind `vidrag talking-head`; `TalkingHeadPipeline` is the reusable orchestrator,
`load_framepack` the real model loader, `tiny_pipeline` the weight-free stand-in for tests and demos.
Heavy libraries (torch, diffusers, transformers) load only when a function needs them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vidrag.tools.talking_head.framepack import (
    MEMORY_MODES,
    VARIANTS,
    apply_memory_mode,
    cached_pipeline,
    get_variant,
    load_framepack,
    resolve_device,
)
from vidrag.tools.talking_head.pipeline import (
    DEFAULT_PROMPT,
    CommandLipSync,
    LipSync,
    MotionSettings,
    TalkingHeadPipeline,
    TalkingHeadResult,
    probe,
)
from vidrag.tools.talking_head.sections import SectionPlan, bucket_size, plan_sections
from vidrag.tools.talking_head.tts import EspeakVoice, TransformersVoice, Voice, make_voice

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PROMPT",
    "MEMORY_MODES",
    "VARIANTS",
    "CommandLipSync",
    "EspeakVoice",
    "LipSync",
    "MotionSettings",
    "SectionPlan",
    "TalkingHeadPipeline",
    "TalkingHeadResult",
    "TransformersVoice",
    "Voice",
    "bucket_size",
    "build_talking_head",
    "generate_talking_head",
    "load_framepack",
    "make_voice",
    "plan_sections",
    "probe",
    "tiny_pipeline",
]


def tiny_pipeline(seed: int = 0) -> Any:
    """A FramePack pipeline over tiny random components (see `vidrag.tools.talking_head.tiny`)."""
    from vidrag.tools.talking_head.tiny import tiny_pipeline as build

    return build(seed)


def _tiny_factory(device: str) -> Any:
    import torch

    def build() -> Any:
        pipe = tiny_pipeline(0)
        if device.startswith("cuda"):
            pipe.to(torch.bfloat16)
        return apply_memory_mode(pipe, "none", device, vae_tiling=False)

    return build


def build_talking_head(
    *,
    variant: str = "framepack",
    voice: str | Voice = "espeak",
    device: str | None = None,
    memory_mode: str | None = None,
    allow_cpu: bool = False,
    lipsync_command: str | None = None,
    tiny: bool = False,
    cache_dir: str | None = None,
) -> TalkingHeadPipeline:
    """Assemble a TalkingHeadPipeline; the FramePack model loads on first use (cached, one at a time).

    Raises:
        InputError: an unknown variant, voice or memory mode, or a bad lip-sync template.
        BackendUnavailable: CPU only and `allow_cpu` is False (real model only).
    """
    spec = get_variant(variant)
    speaker = make_voice(voice) if isinstance(voice, str) else voice
    lipsync = CommandLipSync(lipsync_command) if lipsync_command else None
    if tiny:
        from vidrag.tools.talking_head.tiny import TINY_MODEL_IDS, TINY_PROMPT_TEMPLATE

        device = resolve_device(device, allow_cpu=True)
        tiny_factory = _tiny_factory(device)
        return TalkingHeadPipeline(
            lambda: cached_pipeline(f"tiny:{device}", tiny_factory), voice=speaker, lipsync=lipsync,
            model_ids=TINY_MODEL_IDS, prompt_template=TINY_PROMPT_TEMPLATE,
            info={"device": device, "memory_mode": "none", "tiny": True},
        )
    device = resolve_device(device, allow_cpu)
    key = f"{variant}:{device}:{memory_mode}:{cache_dir}"

    def factory() -> Any:
        return load_framepack(variant, device=device, memory_mode=memory_mode, allow_cpu=allow_cpu,
                              cache_dir=cache_dir)

    return TalkingHeadPipeline(
        lambda: cached_pipeline(key, factory), voice=speaker, lipsync=lipsync, model_ids=spec.model_ids(),
        info={"device": device, "memory_mode": memory_mode or "auto", "variant": variant, "tiny": False},
    )


def generate_talking_head(
    image: str | Path | tuple[str, float],
    script: str,
    out: str | Path,
    *,
    frame_time: float | None = None,
    seed: int = 0,
    steps: int = 25,
    variant: str = "framepack",
    voice: str = "espeak",
    fps: float = 30.0,
    width: int | None = None,
    height: int | None = None,
    target_area: int | None = None,
    latent_window_size: int = 9,
    prompt: str = DEFAULT_PROMPT,
    device: str | None = None,
    memory_mode: str | None = None,
    allow_cpu: bool = False,
    lipsync_command: str | None = None,
    tiny: bool = False,
    cache_dir: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Make a video of the person in a portrait saying a script, with a synthetic voice.

    Use this when the user asks for a talking-head, presenter or avatar clip. The portrait is an
    image file, or a frame of a library video: pass the video's path as `image` and the moment in
    seconds as `frame_time` (e.g. a clip's start). The video lasts as long as the spoken script
    (about 2.5 words per second). On a GPU with the FramePack weights it takes minutes per 10 s of
    speech; keep scripts short. Lips follow the words only when a lip-sync command is configured.

    Args:
        image: path of a portrait image (PNG/JPEG), or of a video when `frame_time` is given, or a
            `(video path, seconds)` pair.
        script: the exact words the person says; must not be empty.
        out: where to write the .mp4; a .json with the same name records how it was made.
        frame_time: seconds into the video given as `image` to take the portrait from.
        seed: random seed; the same seed and inputs give the same video.
        steps: denoising steps per section; 25 is FramePack's default, fewer is faster and rougher.
        variant: `framepack` (default; holds the face steady) or `framepack-f1` (forward sampling).
        voice: `espeak`, `espeak:<voice>` (e.g. `espeak:en-gb`) or `transformers:<model id>`.
        fps: frames per second of the video.
        width: video width, a multiple of 16; unset = chosen from the portrait's shape.
        height: video height, a multiple of 16; unset = chosen from the portrait's shape.
        target_area: pixels per frame aimed at when choosing the size (default 640*640, tiny 64*64).
        latent_window_size: latent frames per FramePack section (9 in FramePack).
        prompt: how the person should move.
        device: `cuda`, `cuda:N` or `cpu`; unset = CUDA if present.
        memory_mode: `none`, `model_cpu_offload` or `group_offload`; unset = chosen from free GPU memory.
        allow_cpu: run the real model on a CPU anyway (hours).
        lipsync_command: external lip-sync command with `{video}`, `{audio}`, `{out}` placeholders.
        tiny: use tiny random weights (a noise video, for demos and tests; no download needed).
        cache_dir: Hugging Face cache folder holding the weights.
        progress: optional `progress(done, total)` callback.

    Returns:
        {"video", "metadata", "seconds", "frames", "width", "height", "seed", "model_ids", "timings"}.

    Raises:
        InputError: empty script, unreadable image or video time, size not a multiple of 16, or a
            last image with vanilla sampling; the message says what to change.
        ModelMissing: FramePack weights are not downloaded; run `vidrag models download framepack`.
        BackendUnavailable: no GPU (and `allow_cpu` not set), or espeak-ng/ffmpeg/lip sync failed.
    """
    portrait = (str(image), float(frame_time)) if frame_time is not None else image
    maker = build_talking_head(variant=variant, voice=voice, device=device, memory_mode=memory_mode,
                               allow_cpu=allow_cpu, lipsync_command=lipsync_command, tiny=tiny,
                               cache_dir=cache_dir)
    settings = MotionSettings(
        seed=seed, steps=steps, fps=fps, latent_window_size=latent_window_size, width=width, height=height,
        target_area=target_area or (64 * 64 if tiny else 640 * 640), sampling=get_variant(variant).sampling,
        prompt=prompt,
    )
    result = maker.generate(portrait, script, out, settings, progress=progress)
    meta = result.metadata
    return {
        "video": str(result.video), "metadata": str(result.metadata_path), "seconds": meta["video_seconds"],
        "frames": meta["frames"], "width": meta["width"], "height": meta["height"], "seed": seed,
        "model_ids": meta["model_ids"], "timings": meta["timings"],
    }
