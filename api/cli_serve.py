"""`vidrag serve`: run the REST API and web page with uvicorn; `vidrag mcp`: the MCP server on stdio.

`serve` refuses to listen beyond loopback unless `VIDRAG_API_KEY` is set, since the API can read,
add and delete videos. Registered on the main CLI by `vidrag.api.cli` (`register(app)`).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

log = logging.getLogger(__name__)


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on; beyond loopback needs VIDRAG_API_KEY.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Serve the library over HTTP: the REST API (docs at /docs) and the web page at /."""
    # One intra-op torch thread: a query embeds one short sentence, and OpenMP teams spinning across
    # concurrent requests cost far more than they save (p50 of /search 495 ms → 18 ms on 2 cores).
    # Set on torch itself, not through OMP_NUM_THREADS, which every OpenMP library in the process reads.
    import torch

    from vidrag.api.app import ApiSettings, check_exposure, create_app
    from vidrag.storage.errors import InputError

    torch.set_num_threads(1)
    settings = ApiSettings(host=host, port=port)
    try:
        check_exposure(host, settings.api_key)
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    import uvicorn

    typer.echo(f"vidrag serving {settings.home} at http://{host}:{port}/ (API docs at /docs)", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)


def mcp() -> None:
    """Serve the library's tools to an MCP client (Claude Desktop, an IDE) over stdin/stdout."""
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.storage.errors import BackendUnavailable

    try:
        from vidrag.api.mcp_server import run_stdio
    except ImportError as error:
        raise BackendUnavailable(
            f"The MCP SDK is not installed ({error.name} is missing); run `pip install 'vidrag[mcp]'`."
        ) from error
    library = open_library(Settings())
    try:
        run_stdio(library)
    finally:
        library.close()


def register(app: typer.Typer) -> None:
    """Add the `serve` and `mcp` commands to the vidrag CLI."""
    app.command("serve")(serve)
    app.command("mcp")(mcp)
