"""The `vidrag` command line: a thin layer over the Library. Data on stdout, messages on stderr.

The whole command tree is `app`: this module's commands (ingest, videos, search, delete, demo) and
the Typer apps of `cli_agent` (ask, eval), `cli_serve` (serve, mcp), `cli_doctor`, `talking_head_cmd`
and `models_cmd` (the `models` group), added below; `cli_common` opens the library for all of them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidrag.api import cli_agent, cli_common, cli_doctor, cli_serve, models_cmd, talking_head_cmd
from vidrag.storage.errors import InputError, NotFound, VidragError
from vidrag.storage.types import Hit, clock

if TYPE_CHECKING:
    from vidrag.agent.answer import Answer
    from vidrag.api.client import RemoteLibrary
    from vidrag.indexing.pipeline import IngestResult
    from vidrag.storage.types import JSON
    from vidrag.tools.library import Library

# Plain help (rich_markup_mode=None): flags read as flags (`--json`), and rich is not imported at start.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Search and question your video library.",
)


class SearchMode(str, Enum):
    """How `vidrag search` matches a query (checked before anything loads)."""

    hybrid = "hybrid"
    dense = "dense"
    sparse = "sparse"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def err(message: str) -> None:
    typer.echo(message, err=True)


def _emit_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Video files or folders (searched recursively).")],
    json_out: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the stages on Ray Data workers (needs the ray extra).")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="With --ray: auto or ray://HOST:10001 (default VIDRAG_RAY_ADDRESS, else local).")
    ] = None,
    workers: Annotated[int, typer.Option(help="With --ray: analyse workers (0 = one per free CPU).")] = 0,
) -> None:
    """Index videos: clips, speech, on-screen text and captions into the library."""
    import time

    from vidrag.api.cli_ingest import FileBars, RunBars, echo_speed, ingest_on_ray
    from vidrag.indexing.pipeline import throughput

    library = cli_common.open_library(for_ingest=True)
    show = not quiet and not json_out and sys.stderr.isatty()
    bars = RunBars(show) if ray else FileBars(show)
    started = time.perf_counter()
    try:
        if isinstance(bars, RunBars):  # with --ray
            results = ingest_on_ray(
                library, cli_common.settings(), paths, address=ray_address, workers=workers, progress=bars
            )
        else:
            results = library.ingest(paths, progress=bars)
    finally:
        bars.close()
    summary = throughput(results, time.perf_counter() - started)
    if json_out:
        _emit_json({"results": [r.to_dict() for r in results], "throughput": summary})
    else:
        _print_summary(results)
        echo_speed(summary)
    if results and all(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _print_summary(results: list[IngestResult]) -> None:
    from vidrag.indexing.stages import TRUNCATED

    counts = {s: sum(r.status == s for r in results) for s in ("indexed", "unchanged", "failed")}
    partial = [r for r in results if r.status == "indexed" and any(w.startswith(TRUNCATED) for w in r.warnings)]
    for r in results:
        if r.status == "indexed":
            realtime = r.duration / max(sum(r.timings.values()), 1e-9)
            label = "partial" if r in partial else "indexed"
            typer.echo(
                f"{label:10s} {r.video_id}  {r.clips:3d} clips  {clock(r.duration)}  "
                f"{realtime:4.1f}x real time  {r.path}"
            )
        elif r.status == "unchanged":
            typer.echo(f"unchanged  {r.video_id}  {r.clips:3d} clips  {r.path}")
    for r in results:
        if r.status == "failed":
            err(f"failed     {r.error}")
        for warning in r.warnings:
            err(f"warning    {Path(r.path).name}: {warning}")
    warned = sum(bool(r.warnings) for r in results)
    tail = f", {warned} with warnings" if warned else ""
    cut = f" ({len(partial)} only in part: the file decodes short of its length)" if partial else ""
    typer.echo(f"{counts['indexed']} indexed{cut}, {counts['unchanged']} unchanged, {counts['failed']} failed{tail}.")


@app.command()
def videos(json_out: JsonOpt = False) -> None:
    """List the videos in the library."""
    library = cli_common.open_library()
    records = library.videos()
    if json_out:
        _emit_json([r.to_dict() for r in records])
        return
    if not records:
        err("The library is empty; add videos with `vidrag ingest PATH`.")
        return
    for r in records:
        flag = "  (warnings: see --json)" if r.warnings else ""
        typer.echo(
            f"{r.id}  {r.status:9s} {r.clip_count:4d} clips  {clock(r.duration)}  {r.language or '-':3s} {r.path}{flag}"
        )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=100, help="How many moments to return.")] = 5,
    video: Annotated[
        list[str] | None, typer.Option("--video", help="Only this video (id, prefix, path or name); repeatable.")
    ] = None,
    start: Annotated[float | None, typer.Option(help="Only clips ending after this time (s).")] = None,
    end: Annotated[float | None, typer.Option(help="Only clips starting before this time (s).")] = None,
    mode: Annotated[SearchMode | None, typer.Option(help="How to match: meaning, words, or both fused.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Find the moments that match a query."""
    library = cli_common.open_library()
    hits = library.search(query, k=top_k, video=video, start=start, end=end, mode=mode.value if mode else None)
    if json_out:
        _emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        err("No matching clips.")
    for rank, hit in enumerate(hits, 1):
        typer.echo(
            f"{rank}. {Path(hit.video).name} @ {clock(hit.start)}–{clock(hit.end)}  "
            f"(score {hit.score:.3f}, id {hit.video_id})"
        )
        typer.echo("   " + _hit_snippet(hit))


def _hit_snippet(hit: Hit, width: int = 220) -> str:
    """What was said, else what was on screen, else the caption: the part a person reads first."""
    if hit.transcript:
        return _snippet(f"“{hit.transcript}”", width)
    if hit.ocr:
        return _snippet("On screen: " + " / ".join(hit.ocr.split("\n")), width)
    return _snippet(hit.caption or hit.text, width)


def _snippet(text: str, width: int = 220) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command()
def delete(video: Annotated[str, typer.Argument(help="Video id, id prefix, path or file name.")]) -> None:
    """Remove a video from the library (the file is left alone)."""
    record = cli_common.open_library().delete(video)
    typer.echo(f"deleted {record.id} {record.path}")


@app.command()
def demo(
    question: Annotated[
        str, typer.Option(help="The question to answer after ingesting.")
    ] = "How do two computers open a TCP connection?",
    folder: Annotated[Path, typer.Option(help="Where to build the sample library.")] = Path("sample-videos"),
    json_out: JsonOpt = False,
) -> None:
    """Build the bundled sample library, ingest it, search it and answer a question with cited moments."""
    from vidrag.samples.library import build_sample_library

    err(f"Building the sample library in {folder} …")
    build_sample_library(folder)
    from vidrag.api.cli_ingest import FileBars

    library = cli_common.open_library(for_ingest=True)
    bars = FileBars(enabled=not json_out and sys.stderr.isatty())
    try:
        results = library.ingest([folder], progress=bars)
    finally:
        bars.close()
    if not json_out:
        _print_summary(results)
        typer.echo(f"\nSearch: {question!r}")
    hits = library.search(question, k=5)
    answer = _answer(library, question)
    if json_out:
        _emit_json({"ingest": [r.to_dict() for r in results], "hits": [h.to_dict() for h in hits], "answer": answer})
        return
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank}. {Path(hit.video).name} @ {clock(hit.start)}–{clock(hit.end)}  {_hit_snippet(hit, 120)}")
    if answer is not None:
        _print_answer(answer)


def _answer(library: Library | RemoteLibrary, question: str) -> Answer | dict[str, JSON] | None:
    from vidrag.api.client import is_remote

    if is_remote(library):
        return library.ask(question)
    try:
        from vidrag.agent import answer_question
    except ImportError:
        return None
    from vidrag.api.wiring import make_llm

    return answer_question(library, question, llm=make_llm(cli_common.settings()))


def _print_answer(result: Mapping[str, object]) -> None:
    """An answer as `answer_question` or a server's `/ask` gives it: its mode, text and citations."""
    typer.echo(f"\nAnswer ({result['mode']}):\n{result['answer']}")
    citations = result.get("citations", [])
    for c in citations if isinstance(citations, list) else []:
        typer.echo(
            f"  [{Path(c['video']).name} @ {clock(c['start'])}–{clock(c['end'])}] {_snippet(c.get('quote', ''), 100)}"
        )


# The rest of the command tree, each module's commands in the order `vidrag --help` lists them.
app.add_typer(cli_agent.app)  # ask, eval
app.add_typer(cli_serve.app)  # serve, mcp
app.add_typer(cli_doctor.app)  # doctor
app.add_typer(talking_head_cmd.app)  # talking-head
app.add_typer(models_cmd.models_app, name="models", help="Download and list model weights.")


def main() -> None:
    """Entry point: run the CLI, turning vidrag errors into a message on stderr and exit code.

    Exit codes: 0 done, 1 the work failed (e.g. every video failed to ingest), 2 bad input or usage
    (one line on stderr, no traceback), 3 a backend is unavailable, 130 interrupted.
    """
    logging.basicConfig(
        level=os.environ.get("VIDRAG_LOG_LEVEL", "WARNING"),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except VidragError as error:
        err(f"error: {error}")
        code = 2 if isinstance(error, (InputError, NotFound)) else 3
        sys.exit(code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err("aborted")
        sys.exit(130)
    except Exception as error:
        code = _usage_error(error)
        if code is not None:
            sys.exit(code)
        if isinstance(error, OSError):  # a read-only or full disk, a file in use: one line, not a traceback
            err(f"error: {error}; check VIDRAG_HOME and the files named.")
            sys.exit(3)
        raise
    except BaseException as error:  # noqa: BLE001 - a native panic (pyo3's PanicException): one line; exits pass
        from vidrag.storage.errors import contain

        err(f"error: {contain(error, 'the command')}")
        sys.exit(3)


def _usage_error(error: Exception) -> int | None:
    """Print a command-line usage error (typer's or click's) as one line; its exit code, or None
    when `error` is no usage error."""
    exit_code = getattr(error, "exit_code", None)
    format_message = getattr(error, "format_message", None)
    if not isinstance(exit_code, int) or format_message is None:
        return None
    ctx = getattr(error, "ctx", None)
    command = getattr(ctx, "command_path", None) or "vidrag"
    if type(error).__name__ == "NoArgsIsHelpError":  # `vidrag` or `vidrag models` alone
        names = ", ".join(sorted(getattr(ctx.command, "commands", {}))) if ctx is not None else ""
        err(f"error: `{command}` needs a command ({names}); `{command} --help` says what each does.")
        return 2
    message = " ".join(str(format_message()).split())
    err(f"error: {message} (`{command} --help` shows the usage)")
    return exit_code


if __name__ == "__main__":
    main()
