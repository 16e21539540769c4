"""How `vidrag ingest` shows a run: a bar per file in one process; on Ray, one bar for videos and one
for media seconds; and a closing line with the run's speed and each stage's throughput."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from tqdm import tqdm

    from vidrag.api.client import RemoteLibrary
    from vidrag.api.settings import Settings
    from vidrag.indexing.distributed import RunProgress
    from vidrag.indexing.pipeline import IngestResult
    from vidrag.tools.library import Library


def ingest_on_ray(
    library: Library | RemoteLibrary,
    settings: Settings,
    paths: list[Path],
    *,
    address: str | None = None,
    workers: int = 0,
    progress: RunProgress | None = None,
) -> list[IngestResult]:
    """`vidrag ingest --ray`: Ray's console chatter kept off stdout (which carries the data) and its
    per-dataset INFO lines turned down (vidrag shows its own bars)."""
    from vidrag.api.wiring import ingest_on_ray as run

    try:
        import ray.data  # noqa: F401 - the import configures the 'ray.data' logger, turned down next
    except ImportError:
        pass  # the run itself says how to install Ray
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):  # Ray prints workers' retries to stdout
        return run(library, settings, paths, address=address, workers=workers, progress=progress)


class FileBars:
    """One tqdm bar per file, on stderr, in percent of that file's ingest."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.path: str | None = None

    def __call__(self, path: str, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        from vidrag.indexing.pipeline import progress_fraction

        if path != self.path:
            self.close()
            self.path = path
            self.bar = tqdm(
                total=100,
                desc=Path(path).name[:28],
                unit="%",
                file=sys.stderr,
                leave=True,
                bar_format="{desc:<28} {bar} {n:3.0f}%{postfix}",
            )
        if self.bar is not None:
            self.bar.n = 100.0 * progress_fraction(stage, done, total)
            self.bar.set_postfix_str(stage)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.n = 100
            self.bar.refresh()
            self.bar.close()
            self.bar = None


class RunBars:
    """Two bars for a Ray run, moved as each video's result reaches the driver: videos done of all
    found, and media seconds indexed (a counter with its rate: the total is known only once every
    video has been probed, on the workers)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.videos: tqdm | None = None
        self.media: tqdm | None = None

    def __call__(self, result: IngestResult, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.videos is None or self.media is None:
            self.videos = tqdm(total=total, desc="videos", unit="video", file=sys.stderr, position=0)
            self.media = tqdm(desc="media", unit="s", unit_scale=True, file=sys.stderr, position=1)
        self.videos.n = done
        self.videos.set_postfix_str(result.status)
        self.videos.refresh()
        if result.status == "indexed":
            self.media.update(result.duration)

    def close(self) -> None:
        for bar in (self.videos, self.media):
            if bar is not None:
                bar.close()


def speed_line(summary: Mapping[str, Any]) -> str:  # Any: indexing's `throughput`, a dict of counts and rates
    """The run's media seconds per wall second, and each stage's media seconds per busy second."""
    stages = ", ".join(
        f"{name} {row['media_s_per_s']:.1f}"
        for name, row in summary["stages"].items()
        if row["media_s_per_s"] is not None
    )
    return (
        f"{summary['media_s']:.1f} s of video in {summary['wall_s']:.1f} s = {summary['media_s_per_s']:.1f} "
        f"media s/s; per stage, media s per busy s: {stages or '-'}"
    )


def echo_speed(summary: Mapping[str, object]) -> None:
    if summary["indexed"]:
        typer.echo(speed_line(summary))
