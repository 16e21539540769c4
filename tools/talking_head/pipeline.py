"""The talking-head orchestrator: script -> voice -> FramePack motion sized to the voice -> mp4 + JSON.

FramePack takes no audio, so the voice track is made first and its length decides how many sections
FramePack runs (see `sections.plan_sections`); the surplus frames are trimmed, the frames are encoded
as H.264, an optional lip-sync command rewrites the mouth, and ffmpeg muxes AAC audio padded or cut
to the video's exact length. A JSON sidecar records the script, prompt, seed, model ids, sizes and
stage timings. The FramePack pipeline comes from a loader function, so the real model and the tiny random one
(`tiny.tiny_pipeline`) run through the same code.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.storage.errors import BackendUnavailable, InputError, VidragError
from vidrag.tools.evidence import JSON
from vidrag.tools.talking_head.media import FrameEncoder, Frames, MotionPipe, Portrait, load_portrait, mux
from vidrag.tools.talking_head.sections import SectionPlan, bucket_size, check_size, plan_sections
from vidrag.tools.talking_head.tts import EspeakVoice, Voice, wav_duration

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

StepProgress = Callable[[int, int], None]
Timings = dict[str, float | list[float]]
"""Stage seconds by name; a list for per-section or per-step times (`parts` counts sections)."""

DEFAULT_PROMPT = (
    "The person looks into the camera and speaks naturally, mouth moving with the words, "
    "with small head movements and blinks; steady camera, same lighting."
)
SAMPLINGS = ("inverted_anti_drifting", "vanilla")


@dataclass
class MotionSettings:
    """How FramePack animates the portrait.

    Attributes:
        seed: random seed; equal seeds give identical frames on the same device and dtype.
        steps: denoising steps per section (FramePack uses 25).
        guidance_scale: HunyuanVideo's distilled guidance (FramePack uses 10).
        fps: frames per second of the output.
        latent_window_size: latent frames per section (FramePack uses 9).
        width: output width, a multiple of 16; None = bucketed from the portrait.
        height: output height, a multiple of 16; None = bucketed from the portrait.
        target_area: pixel area aimed at when bucketing.
        sampling: `inverted_anti_drifting` (FramePack) or `vanilla` (F1).
        use_last_image: also pass the portrait as the last frame; None = when sampling allows it.
        prompt: the text prompt describing the motion.
    """

    seed: int = 0
    steps: int = 25
    guidance_scale: float = 10.0
    fps: float = 30.0
    latent_window_size: int = 9
    width: int | None = None
    height: int | None = None
    target_area: int = 640 * 640
    sampling: str = "inverted_anti_drifting"
    use_last_image: bool | None = None
    prompt: str = DEFAULT_PROMPT


@dataclass
class TalkingHeadResult:
    """What a generation produced: the mp4, its JSON sidecar and the sidecar's content."""

    video: Path
    metadata_path: Path
    metadata: dict[str, JSON] = field(default_factory=dict)


class LipSync(ABC):
    """Rewrites a video's mouth to follow an audio track. Subclasses implement `sync`."""

    @abstractmethod
    def sync(self, video: Path, audio: Path, out: Path) -> Path:
        """Write a lip-synced version of `video` for `audio` to `out` and return `out`."""

    def describe(self) -> dict[str, JSON]:
        """What is configured, for the sidecar metadata."""
        return {"name": type(self).__name__}


class CommandLipSync(LipSync):
    """Runs an external lip-sync program (LatentSync, MuseTalk...) in its own environment.

    Args:
        template: a command line with `{video}`, `{audio}` and `{out}` placeholders, e.g.
            `/opt/latentsync/run.sh --video {video} --audio {audio} --out {out}`.
        timeout: seconds before the command is killed.

    Raises:
        InputError: the template lacks a placeholder.
    """

    def __init__(self, template: str, timeout: float = 3600.0):
        for key in ("{video}", "{audio}", "{out}"):
            if key not in template:
                raise InputError(f"The lip-sync command must contain {key}; got {template!r}.")
        self.template, self.timeout = template, timeout

    def sync(self, video: Path, audio: Path, out: Path) -> Path:
        """Run the command; raise BackendUnavailable if it fails or writes nothing."""
        args = [part.format(video=video, audio=audio, out=out) for part in shlex.split(self.template)]
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BackendUnavailable(f"Lip-sync command {args[0]!r} could not run: {err}.") from err
        if result.returncode != 0 or not Path(out).exists():
            raise BackendUnavailable(
                f"Lip-sync command failed (exit {result.returncode}, output {out} "
                f"{'exists' if Path(out).exists() else 'missing'}): {result.stderr.strip()[-400:]}"
            )
        return Path(out)

    def describe(self) -> dict[str, JSON]:
        return {"name": "command", "template": self.template}


class TalkingHeadPipeline:
    """Makes talking-head clips: voice, FramePack motion, optional lip sync, mux, sidecar.

    Args:
        load_motion: returns the HunyuanVideoFramepackPipeline; called on first use, so weights load
            only when a clip is made (pass `lambda: pipe` for a pipeline already built).
        voice: the text-to-speech voice; default espeak-ng `en-us`.
        lipsync: an optional lip-sync step.
        model_ids: role -> model id, recorded in the sidecar.
        prompt_template: passed to the pipeline (the tiny text encoder needs `tiny.TINY_PROMPT_TEMPLATE`).
        info: extra facts for the sidecar (device, memory mode, dtype).
        preflight: called as `preflight(plan, width, height, steps)` once the voice has fixed the
            length and before the model loads; raises to refuse the job (a GPU too small) and returns
            facts for the sidecar (the memory mode chosen, the time estimate).
    """

    def __init__(
        self,
        load_motion: Callable[[], MotionPipe],
        *,
        voice: Voice | None = None,
        lipsync: LipSync | None = None,
        model_ids: dict[str, str] | None = None,
        prompt_template: dict[str, JSON] | None = None,
        info: dict[str, JSON] | None = None,
        preflight: Callable[[SectionPlan, int, int, int], Mapping[str, JSON]] | None = None,
    ):
        self._load_motion = load_motion
        self._pipe: MotionPipe | None = None
        self.preflight = preflight
        self.voice = voice or EspeakVoice()
        self.lipsync, self.model_ids = lipsync, dict(model_ids or {})
        self.prompt_template, self.info = prompt_template, dict(info or {})

    @property
    def motion_pipe(self) -> MotionPipe:
        """The FramePack pipeline, loaded on first use."""
        if self._pipe is None:
            self._pipe = self._load_motion()
        return self._pipe

    def validate(
        self, image: Portrait, script: str, out: Path | str, settings: MotionSettings
    ) -> tuple[Image, int, int]:
        """Check inputs before any work; returns (portrait, width, height).

        Raises:
            InputError: empty script, unreadable image, size not a multiple of 16, last image with
                vanilla sampling, bad steps or output path.
        """
        if not script or not script.strip():
            raise InputError("The script is empty; give the words the person should say.")
        if settings.sampling not in SAMPLINGS:
            raise InputError(f"Unknown sampling {settings.sampling!r}; use one of {list(SAMPLINGS)}.")
        if settings.use_last_image and settings.sampling == "vanilla":
            raise InputError(
                "A last image needs inverted_anti_drifting sampling; vanilla (FramePack-F1) "
                "generates forwards only. Drop the last image or use the 'framepack' variant."
            )
        if settings.steps < 1:
            raise InputError(f"steps must be at least 1, got {settings.steps}; FramePack uses 25.")
        if Path(out).suffix.lower() != ".mp4":
            raise InputError(f"The output must be an .mp4 path, got {out}.")
        portrait = load_portrait(image)
        bucketed = bucket_size(portrait.size[0], portrait.size[1], settings.target_area)
        width, height = settings.width or bucketed[0], settings.height or bucketed[1]
        if settings.width is not None or settings.height is not None:
            check_size(width, height)
        return portrait, width, height

    def generate(
        self,
        image: Portrait,
        script: str,
        out: Path | str,
        settings: MotionSettings | None = None,
        progress: StepProgress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TalkingHeadResult:
        """Make the clip and its sidecar: speak, animate to the voice's length, finish the mp4.

        Args:
            image: portrait path, PIL image, RGB array, or `(video path, seconds)` to grab a frame.
            script: the words to speak.
            out: the .mp4 to write; the sidecar goes beside it with a .json suffix.
            settings: motion settings; defaults are FramePack's.
            progress: called as `progress(done, total)` while working.
            should_stop: asked after every denoising step and between parts; True cancels the job.

        Returns:
            The result with the sidecar's content.

        Raises:
            InputError: bad inputs (see `validate`).
            ModelMissing: FramePack weights are absent (from the loader).
            BackendUnavailable: espeak-ng, ffmpeg or the lip-sync command failed, CPU refused, or
                the GPU too small for the job (the message says how long it would take there).
            Cancelled: `should_stop` returned True; no output is left behind.
        """
        settings = settings or MotionSettings()
        out = Path(out)
        portrait, width, height = self.validate(image, script, out, settings)
        clock = _Stopwatch()
        with tempfile.TemporaryDirectory(prefix="vidrag-th-") as tmp:
            work = Path(tmp)
            with clock("voice"):
                audio = self.voice.synthesize(script, work / "voice.wav")
            speech_seconds = wav_duration(audio)
            plan = plan_sections(speech_seconds, settings.fps, settings.latent_window_size)
            checked = self.preflight(plan, width, height, settings.steps) if self.preflight else {}
            ticker = _StepCounter(progress, plan.sections * settings.steps + 3 + (1 if self.lipsync else 0))
            ticker.step()
            silent = self._animate(portrait, width, height, plan, settings, clock, ticker, work, should_stop)
            video_seconds = plan.target_frames / settings.fps
            self._finish(silent, audio, out, video_seconds, settings.fps, work, clock, ticker)
        timings = clock.done()
        meta = self._metadata(script, settings, plan, width, height, speech_seconds, video_seconds, timings, out)
        meta.update(checked)
        sidecar = out.with_suffix(".json")
        sidecar.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        logger.info(
            "talking head %s: %d frames, %.2f s, %.1f s total", out, plan.target_frames, video_seconds, timings["total"]
        )
        return TalkingHeadResult(video=out, metadata_path=sidecar, metadata=meta)

    def _animate(
        self,
        portrait: Image,
        width: int,
        height: int,
        plan: SectionPlan,
        settings: MotionSettings,
        clock: _Stopwatch,
        ticker: _StepCounter,
        work: Path,
        should_stop: Callable[[], bool] | None,
    ) -> Path:
        """FramePack frames for the plan, encoded part by part into a silent mp4 (the model loads here)."""
        with clock("load"):
            pipe = self.motion_pipe
        encoder = FrameEncoder(width, height, settings.fps, work / "silent.mp4")
        encode = [0.0]

        def write(chunk: Frames) -> None:
            began = time.perf_counter()
            encoder.write(chunk)
            encode[0] += time.perf_counter() - began

        try:
            _, motion_times = run_motion(
                pipe,
                portrait,
                width,
                height,
                plan,
                settings,
                prompt_template=self.prompt_template,
                on_step=ticker.step,
                on_frames=write,
                should_stop=should_stop,
            )
            began = time.perf_counter()
            video = encoder.close()
        except BaseException:
            encoder.abort()
            raise
        clock.times.update({k: v for k, v in motion_times.items() if k != "steps"})
        clock.times["encode"] = encode[0] + time.perf_counter() - began
        if encoder.frames != plan.target_frames:
            raise BackendUnavailable(f"FramePack made {encoder.frames} frames, planned {plan.target_frames}.")
        ticker.step()
        return video

    def _finish(
        self,
        video: Path,
        audio: Path,
        out: Path,
        seconds: float,
        fps: float,
        work: Path,
        clock: _Stopwatch,
        ticker: _StepCounter,
    ) -> None:
        """Lip-sync the silent video if configured, and mux the voice into `out`."""
        if self.lipsync is not None:
            with clock("lipsync"):
                video = self.lipsync.sync(video, audio, work / "lipsync.mp4")
            ticker.step()
        with clock("mux"):
            out.parent.mkdir(parents=True, exist_ok=True)
            mux(video, audio, out, seconds, fps, reencode=self.lipsync is not None)
        ticker.step()

    def _metadata(
        self,
        script: str,
        settings: MotionSettings,
        plan: SectionPlan,
        width: int,
        height: int,
        audio_seconds: float,
        video_seconds: float,
        timings: Mapping[str, float | list[float]],
        out: Path,
    ) -> dict[str, JSON]:
        return {
            "video": str(out),
            "script": script,
            "prompt": settings.prompt,
            "seed": settings.seed,
            "steps": settings.steps,
            "guidance_scale": settings.guidance_scale,
            "sampling": settings.sampling,
            "model_ids": self.model_ids,
            "width": width,
            "height": height,
            "fps": settings.fps,
            "frames": plan.target_frames,
            "audio_seconds": round(audio_seconds, 4),
            "video_seconds": round(video_seconds, 4),
            "sections": plan.as_dict(),
            "voice": self.voice.describe(),
            "lipsync": self.lipsync.describe() if self.lipsync else None,
            "settings": asdict(settings),
            "timings": _rounded(timings),
            **self.info,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


class Cancelled(VidragError):
    """The job was cancelled while it ran (checked after every denoising step and between parts)."""


MAX_PART_SECTIONS = 8
"""Sections per pipeline call (9.6 s of video at window 9); longer scripts run in several parts.

The pipeline keeps every decoded frame of a call on the GPU, so its peak grows with the call's length
(full size, 640x640, group_offload, measured on an H200: 5.19 GiB at 2 sections, 6.07 GiB at 10, about
0.11 GiB per section; a 60 s script in one call would pass 10 GiB). Parts of at most 8 sections keep the
low-memory mode under 6.1 GiB and the host's frames to one part, whatever the script's length."""


def run_motion(
    pipe: MotionPipe,
    portrait: Image,
    width: int,
    height: int,
    plan: SectionPlan,
    settings: MotionSettings,
    *,
    prompt_template: dict[str, JSON] | None = None,
    on_step: Callable[[], None] | None = None,
    on_frames: Callable[[Frames], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_part_sections: int = MAX_PART_SECTIONS,
) -> tuple[Frames | None, Timings]:
    """Run FramePack for a section plan; returns uint8 frames (F, H, W, 3) trimmed to the plan, and timings.

    A plan longer than `max_part_sections` runs as several pipeline calls ("parts", `sections.split_parts`),
    each from the portrait (and back to it, with inverted sampling), so the GPU's decoded history and
    the host's frames are bounded by one part whatever the script's length; part k > 0 drops its first
    frame, which repeats the portrait. With `on_frames`, each part's frames go there as soon as they
    are made (uint8, trimmed) and the returned frames are None, so nothing of the whole video is held.

    `should_stop` is asked after every denoising step and between parts; when it returns True the
    run stops with `Cancelled` (the GPU is free again at once).

    Timings: `motion` (the whole call), `sections` (from each part's start, then from each section's
    last step to the next one's: encoding, denoising and the previous section's VAE decode), `steps`
    (each denoising step's seconds, synchronised on CUDA), `final_decode` (the seconds after each
    part's last step: its last VAE decode and frame conversion) and `parts` (sections per call). The
    generator lives on the CPU, so a seed gives the same noise whatever the device or memory mode.

    Raises:
        Cancelled: `should_stop` returned True.
    """
    import numpy as np
    import torch

    from vidrag.tools.talking_head.sections import split_parts

    last = (
        settings.use_last_image
        if settings.use_last_image is not None
        else (settings.sampling == "inverted_anti_drifting")
    )
    cuda = torch.cuda.is_available() and getattr(pipe, "_execution_device", torch.device("cpu")).type == "cuda"
    sections_s: list[float] = []
    steps_s: list[float] = []
    decodes_s: list[float] = []
    parts: list[float] = []
    marks: list[float] = []

    def stop_if_asked() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("The talking-head job was cancelled; nothing was written.")

    def on_step_end(
        _pipe: MotionPipe, step: int, _t: torch.Tensor, kwargs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        if cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        steps_s.append(now - marks[-1])
        marks.append(now)
        if step == settings.steps - 1:
            sections_s.append(now - section_start[0])
            section_start[0] = now
        if on_step is not None:
            on_step()
        stop_if_asked()
        return kwargs

    extra = {"prompt_template": prompt_template} if prompt_template else {}
    transformer = pipe.transformer
    cached = bool(getattr(transformer, "is_cache_enabled", False))
    window = (settings.latent_window_size - 1) * 4 + 1
    kept: list[Frames] = []
    remaining = plan.target_frames
    started = time.perf_counter()
    section_start = [started]
    for number, sections in enumerate(split_parts(plan.sections, max_part_sections)):
        stop_if_asked()
        part_start = time.perf_counter()
        section_start[0] = part_start
        marks.append(part_start)
        context = transformer.cache_context("cond") if cached else _no_context()
        with context:
            result = pipe(
                image=portrait,
                last_image=portrait if last else None,
                prompt=settings.prompt,
                height=height,
                width=width,
                num_frames=sections * window,
                latent_window_size=settings.latent_window_size,
                num_inference_steps=settings.steps,
                guidance_scale=settings.guidance_scale,
                sampling_type=settings.sampling,
                generator=torch.Generator("cpu").manual_seed(settings.seed + number),
                output_type="np",
                callback_on_step_end=on_step_end,
                **extra,
            )
        frames = np.asarray(result.frames[0])
        del result
        expected = sections * settings.latent_window_size * 4 + 1
        if frames.shape[0] != expected:
            logger.warning("FramePack returned %d frames, planned %d", frames.shape[0], expected)
        frames = frames[(1 if number else 0) :][:remaining]
        remaining -= frames.shape[0]
        chunk = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype("uint8")
        del frames
        if cuda:
            torch.cuda.synchronize()
        decodes_s.append(time.perf_counter() - section_start[0])
        parts.append(sections)
        if on_frames is not None:
            on_frames(chunk)
        else:
            kept.append(chunk)
    motion = time.perf_counter() - started
    times: Timings = {
        "sections": sections_s,
        "steps": steps_s,
        "final_decode": sum(decodes_s),
        "parts": parts,
        "motion": motion,
    }
    return (np.concatenate(kept) if kept else None), times


@contextmanager
def _no_context() -> Iterator[None]:
    yield


class _Stopwatch:
    """Times named stages (`with clock("voice"): ...`); `done()` adds the total since creation."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.times: Timings = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.times[stage] = time.perf_counter() - began

    def done(self) -> Timings:
        return {**self.times, "total": time.perf_counter() - self.started}


class _StepCounter:
    """Counts work units and reports them as `progress(done, total)`."""

    def __init__(self, progress: StepProgress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def step(self) -> None:
        self.done = min(self.total, self.done + 1)
        if self.progress is not None:
            self.progress(self.done, self.total)


def _rounded(timings: Mapping[str, float | list[float]]) -> Timings:
    return {k: ([round(x, 4) for x in v] if isinstance(v, list) else round(v, 4)) for k, v in timings.items()}
