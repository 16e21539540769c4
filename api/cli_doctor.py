"""`vidrag doctor`: is the library whole? The catalog compared with the store, and `--repair` to rebuild.

It prints, per indexed video whose clips the store lacks, the points expected and found, and the fix;
`--repair` ingests those videos again from their files (the store is rebuilt even though the files are
unchanged). Exit 0 when the library is consistent (after a repair, when it is again), 1 when it is not.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vidrag.api import cli_common

if TYPE_CHECKING:
    from vidrag.indexing.pipeline import IngestResult

app = typer.Typer()
"""`vidrag doctor`, mounted on the main CLI by `vidrag.api.cli`."""


@app.command("doctor")
def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Ingest again the videos whose clips the store lacks.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Check that the store holds every indexed video's clips (catalog vs store); --repair rebuilds them."""
    library = cli_common.open_library(for_ingest=repair)
    try:
        before = library.integrity()
        repaired: list[IngestResult] = []
        if repair and not before.ok:
            from vidrag.api.cli_ingest import FileBars

            bars = FileBars(not json_out and sys.stderr.isatty())
            try:
                repaired = library.repair(progress=bars)
            finally:
                bars.close()
        after = library.integrity() if repaired else before
    finally:
        library.close()
    if json_out:
        out = {**after.to_dict(), "before": before.to_dict() if repaired else None}
        out["repaired"] = [r.to_dict() for r in repaired]
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        for result in repaired:
            line = f"{result.status:9s}  {result.video_id or '-'}  {result.path}"
            typer.echo(
                line if result.status != "failed" else f"failed     {result.error}", err=result.status == "failed"
            )
        typer.echo(after.summary(), err=not after.ok)
    if not after.ok:
        raise typer.Exit(1)
