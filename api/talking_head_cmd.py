"""`vidrag talking-head`: a portrait and a script in, an mp4 of that person speaking it out.

A thin layer over `vidrag.tools.talking_head.generate_talking_head`: it fills a
`TalkingHeadRequest` from the options (the script as text or `@file`), shows a progress bar on
stderr and prints the result (paths on stdout, or JSON with `--json`). Errors propagate as vidrag
errors, which the CLI's `main` turns into a message and an exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidrag.storage.errors import InputError

if TYPE_CHECKING:
    from tqdm import tqdm

app = typer.Typer()
"""`vidrag talking-head`, mounted on the main CLI by `vidrag.api.cli`."""


def _read_script(script: str) -> str:
    """The script text; `@path` reads it from a file.

    Raises:
        InputError: the file cannot be read.
    """
    if not script.startswith("@"):
        return script
    path = Path(script[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"Cannot read the script file {path}: {err}; give text or @path/to/script.txt.") from err


class _Bar:
    """A tqdm bar on stderr fed by `progress(done, total)`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm[int] | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="talking head", unit="step", file=sys.stderr)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@app.command("talking-head")
def talking_head_command(
    image: Annotated[Path, typer.Option("--image", help="Portrait image, or a video with --frame-time.")],
    script: Annotated[str, typer.Option("--script", help="Words to speak, or @file.txt.")],
    out: Annotated[Path, typer.Option("--out", help="Output .mp4 (a .json sidecar is written beside it).")],
    frame_time: Annotated[
        float | None,
        typer.Option("--frame-time", help="Take the portrait from this second of the video given as --image."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same video.")] = 0,
    steps: Annotated[int, typer.Option("--steps", help="Denoising steps per section (FramePack: 25).")] = 25,
    variant: Annotated[str, typer.Option("--variant", help="framepack | framepack-f1")] = "framepack",
    voice: Annotated[str, typer.Option("--voice", help="espeak | espeak:<voice> | transformers:<model id>")] = "espeak",
    fps: Annotated[float, typer.Option("--fps", help="Frames per second.")] = 30.0,
    width: Annotated[
        int | None, typer.Option("--width", help="Width, multiple of 16; default from the portrait.")
    ] = None,
    height: Annotated[
        int | None, typer.Option("--height", help="Height, multiple of 16; default from the portrait.")
    ] = None,
    target_area: Annotated[
        int | None, typer.Option("--area", help="Pixels per frame when bucketing (default 640*640).")
    ] = None,
    window: Annotated[int, typer.Option("--window", help="Latent window size per section (FramePack: 9).")] = 9,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="How the person moves; default a speaking prompt.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cuda | cuda:N | cpu; default CUDA if present.")
    ] = None,
    memory_mode: Annotated[
        str | None,
        typer.Option("--memory-mode", help="none | model_cpu_offload | group_offload; default from free GPU memory."),
    ] = None,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="Run the real model on a CPU anyway (hours).")] = False,
    lipsync: Annotated[
        str | None, typer.Option("--lipsync", help="Lip-sync command with {video} {audio} {out}.")
    ] = None,
    cache_dir: Annotated[
        str | None, typer.Option("--cache-dir", help="Hugging Face cache holding the weights.")
    ] = None,
    tiny: Annotated[
        bool, typer.Option("--tiny", help="Tiny random weights: a noise video, no download (demo).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Make an mp4 of the person in a portrait speaking a script (FramePack + text to speech)."""
    from vidrag.tools.talking_head import DEFAULT_PROMPT, TalkingHeadRequest, generate_talking_head

    request = TalkingHeadRequest(
        image=str(image),
        script=_read_script(script),
        frame_time=frame_time,
        seed=seed,
        steps=steps,
        variant=variant,
        voice=voice,
        fps=fps,
        width=width,
        height=height,
        target_area=target_area,
        latent_window_size=window,
        prompt=prompt or DEFAULT_PROMPT,
        device=device,
        memory_mode=memory_mode,
        allow_cpu=allow_cpu,
        lipsync_command=lipsync,
        tiny=tiny,
        cache_dir=cache_dir,
    )
    bar = _Bar(enabled=not json_out)
    try:
        result = generate_talking_head(request, out, progress=bar)
    finally:
        bar.close()
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    typer.echo(result["video"])
    typer.echo(
        f"{result['seconds']:.2f} s, {result['frames']} frames, {result['width']}x{result['height']}, "
        f"seed {result['seed']}, {result['timings']['total']:.1f} s; metadata: {result['metadata']}",
        err=True,
    )
