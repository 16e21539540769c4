"""`vidrag serve`: run the REST API and web page with uvicorn; `vidrag mcp`: the MCP server on stdio.

`serve` refuses to listen beyond loopback unless `VIDRAG_API_KEY` is set, since the API can read,
add and delete videos.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

app = typer.Typer()
"""`vidrag serve` and `vidrag mcp`, mounted on the main CLI by `vidrag.api.cli`."""


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on; beyond loopback needs VIDRAG_API_KEY.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 8000,
) -> None:
    """Serve the library over HTTP: the REST API (docs at /docs) and the web page at /.

    While it runs the server owns the library: the CLI, `vidrag mcp` and `vidrag.open_library` on the
    same VIDRAG_HOME find it through <home>/server.json and send their calls to it.
    """
    from vidrag.api import discovery
    from vidrag.api.app import ApiSettings, check_exposure
    from vidrag.storage.errors import BackendUnavailable, InputError

    settings = ApiSettings(host=host, port=port)
    try:
        check_exposure(host, settings.api_key)
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    running = discovery.find_server(settings.home, wait=0)
    if running is not None:
        raise BackendUnavailable(
            f"A vidrag server already serves {settings.home} at {running.url} "
            f"({discovery.describe_process(running.pid)}); stop it first, or use it."
        )
    from vidrag.indexing import heap

    heap.bound_heap()  # the server's process is ours and ingests: keep its heap near what it holds
    # One intra-op torch thread: a query embeds one short sentence, and OpenMP teams spinning across
    # concurrent requests cost far more than they save (p50 of /search 495 ms → 18 ms on 2 cores).
    # Set on torch itself, not through OMP_NUM_THREADS, which every OpenMP library in the process reads.
    import torch

    from vidrag.api.app import create_app

    torch.set_num_threads(1)
    run_owning(create_app(settings), settings.home, host, port)


def run_owning(app: FastAPI, home: Path, host: str, port: int) -> None:
    """Run `app` with uvicorn, announcing it in `home`'s server.json once it listens (with a fresh owner
    key) and withdrawing it when it stops."""
    import socket
    import threading
    import time

    import uvicorn

    from vidrag.api import discovery

    class OwningServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            discovery.withdraw(home)  # first: clients stop coming (uvicorn ends a SIGTERM'd process after this)
            await super().shutdown(sockets)

    owner_key = discovery.new_owner_key()
    app.state.owner_key = owner_key
    server = OwningServer(uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=False))

    def announce_when_listening() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if not server.started:
            return
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        url = discovery.client_url(host, bound)
        discovery.announce(home, url, owner_key)
        typer.echo(f"vidrag serving {home} at {url}/ (API docs at /docs)", err=True)
        library = getattr(app.state, "library", None)
        if library is not None:  # load the query embedder now (by embedding a word), not on the first search
            try:
                library.similarity("vidrag", ["vidrag"])
            except Exception as error:  # noqa: BLE001 - the first search reports it to its client
                log.warning("the embedder did not load: %s", error)

    threading.Thread(target=announce_when_listening, name="vidrag-announce", daemon=True).start()
    try:
        server.run()
    finally:
        discovery.withdraw(home)


@app.command("mcp")
def mcp() -> None:
    """Serve the library's tools to an MCP client (Claude Desktop, an IDE) over stdin/stdout.

    With `vidrag serve` running on the same VIDRAG_HOME, the tools are the server's (relayed to its
    /mcp endpoint); otherwise the library is opened in this process.
    """
    from vidrag.api import discovery
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.storage.errors import BackendUnavailable

    try:
        from vidrag.api.mcp_server import relay_stdio, run_stdio
    except ImportError as error:
        raise BackendUnavailable(
            f"The MCP SDK is not installed ({error.name} is missing); run `pip install 'vidrag[mcp]'`."
        ) from error
    settings = Settings()
    server = discovery.find_server(settings.home)
    if server is not None:
        relay_stdio(server)
        return
    library = open_library(settings)
    try:
        run_stdio(library)
    finally:
        library.close()
