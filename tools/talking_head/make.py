"""Turning a `TalkingHeadRequest` into a video: pick the model, voice and lip sync, then generate.

`generate_talking_head` is the one entry point of the CLI, the REST API's jobs and the agent tool.
The FramePack model is cached per variant and device, so a server loads it once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from vidrag.tools.evidence import TalkingHeadOutput
from vidrag.tools.talking_head.framepack import (
    Fit,
    apply_memory_mode,
    cached_pipeline,
    check_fits,
    get_variant,
    load_framepack,
    resolve_device,
)
from vidrag.tools.talking_head.media import MotionPipe
from vidrag.tools.talking_head.pipeline import CommandLipSync, StepProgress, TalkingHeadPipeline, Timings
from vidrag.tools.talking_head.request import TalkingHeadRequest
from vidrag.tools.talking_head.sections import SectionPlan
from vidrag.tools.talking_head.tts import make_voice


def tiny_pipeline(seed: int = 0) -> MotionPipe:
    """A FramePack pipeline over tiny random components (see `vidrag.tools.talking_head.tiny`)."""
    from vidrag.tools.talking_head.tiny import tiny_pipeline as build

    return build(seed)


def build_talking_head(request: TalkingHeadRequest) -> TalkingHeadPipeline:
    """Assemble the pipeline a request asks for; the FramePack model loads on first use.

    Raises:
        InputError: an unknown variant, voice or memory mode, or a bad lip-sync template.
        BackendUnavailable: CPU only and `allow_cpu` is False (real model only).
    """
    spec = get_variant(request.variant)
    voice = make_voice(request.voice)
    lipsync = CommandLipSync(request.lipsync_command) if request.lipsync_command else None
    if request.tiny:
        from vidrag.tools.talking_head.tiny import TINY_MODEL_IDS, TINY_PROMPT_TEMPLATE

        device = resolve_device(request.device, allow_cpu=True)
        return TalkingHeadPipeline(
            lambda: cached_pipeline(f"tiny:{device}", lambda: _tiny_on(device)),
            voice=voice,
            lipsync=lipsync,
            model_ids=TINY_MODEL_IDS,
            prompt_template=TINY_PROMPT_TEMPLATE,
            info={"device": device, "memory_mode": "none", "tiny": True},
        )
    device = resolve_device(request.device, request.allow_cpu)
    chosen: dict[str, str] = {}

    def preflight(plan: SectionPlan, width: int, height: int, steps: int) -> Fit:
        # Refuses a GPU too small for the job, saying how long it would take there; picks the mode.
        facts = check_fits(device, request.memory_mode, plan.sections, steps, width, height)
        chosen["mode"] = facts["memory_mode"]
        return facts

    def load() -> MotionPipe:
        mode = chosen.get("mode") or request.memory_mode
        return cached_pipeline(
            f"{request.variant}:{device}:{mode}:{request.cache_dir}",
            lambda: load_framepack(
                request.variant,
                device=device,
                memory_mode=mode,
                allow_cpu=request.allow_cpu,
                cache_dir=request.cache_dir,
            ),
        )

    return TalkingHeadPipeline(
        load,
        voice=voice,
        lipsync=lipsync,
        model_ids=spec.model_ids(),
        info={
            "device": device,
            "memory_mode": request.memory_mode or "auto",
            "variant": request.variant,
            "tiny": False,
        },
        preflight=preflight,
    )


def generate_talking_head(
    request: TalkingHeadRequest,
    out: str | Path,
    *,
    progress: StepProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TalkingHeadOutput:
    """Make a video of the person in the request's portrait saying its script, with a synthetic voice.

    The video lasts as long as the spoken script (about 2.5 words per second). On a GPU with the
    FramePack weights it takes minutes per 10 s of speech. Lips follow the words only when a lip-sync
    command is configured.

    Args:
        request: the portrait, the script and how to generate (see `TalkingHeadRequest`).
        out: where to write the .mp4; a .json with the same name records how it was made.
        progress: optional `progress(done, total)` callback.
        should_stop: optional; asked after every denoising step and between parts, True cancels.

    Returns:
        {"video", "metadata", "seconds", "frames", "width", "height", "seed", "model_ids", "timings"}.

    Raises:
        InputError: empty script, unreadable image or video time, size not a multiple of 16, or a
            last image with vanilla sampling; the message says what to change.
        ModelMissing: FramePack weights are not downloaded; run `vidrag models download framepack`.
        BackendUnavailable: no GPU (and `allow_cpu` not set), a GPU too small for the job (the
            message says how long it would take there), or espeak-ng/ffmpeg/lip sync failed.
        Cancelled: `should_stop` returned True.
    """
    settings = request.motion()
    result = build_talking_head(request).generate(
        request.portrait, request.script, out, settings, progress=progress, should_stop=should_stop
    )
    meta = result.metadata  # the sidecar's JSON, as `TalkingHeadPipeline` wrote it
    return TalkingHeadOutput(
        video=str(result.video),
        metadata=str(result.metadata_path),
        seconds=cast(float, meta["video_seconds"]),
        frames=cast(int, meta["frames"]),
        width=cast(int, meta["width"]),
        height=cast(int, meta["height"]),
        seed=request.seed,
        model_ids=cast("dict[str, str]", meta["model_ids"]),
        timings=cast(Timings, meta["timings"]),
    )


def _tiny_on(device: str) -> MotionPipe:
    import torch

    pipe = tiny_pipeline(0)
    if device.startswith("cuda"):
        pipe.to(torch.bfloat16)
    return apply_memory_mode(pipe, "none", device, vae_tiling=False)
