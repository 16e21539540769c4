"""The FastAPI app: the factory, its lifespan (library and ingest worker), errors, key, CORS, page.

`create_app()` builds nothing heavy itself: the library is opened (or the injected one taken) and
the job worker started in the lifespan, and stopped there. Errors are translated once, here: vidrag's
NotFound → 404, InputError → 422, BackendUnavailable → 503, anything else → 500 with the body
`{"detail": "internal error"}` and no trace; validation errors echo bad values escaped (a NaN or a lone
surrogate cannot break the reply). An API key (`X-API-Key`) is required whenever the server listens
beyond loopback; with a key configured it is required on every route but `/health` and the page
itself. `vidrag.api.security.Guard` wraps it all: without a key only loopback clients are served,
whatever the bind; `Host` and `Origin` are checked; a native panic fails one request, never the
lifespan. The MCP server (`vidrag.api.mcp_server`) is mounted at `/mcp` behind the same key when
the `mcp` extra is installed.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from starlette.routing import Route

from vidrag.api.jobs import JobManager
from vidrag.api.routers import describe_error, require_api_key
from vidrag.api.security import Guard, is_loopback
from vidrag.api.settings import Settings
from vidrag.storage.errors import InputError, VidragError

if TYPE_CHECKING:
    from starlette.datastructures import State

    from vidrag.agent.answer import Answerer
    from vidrag.tools.evidence import JSON
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MCP_HEADERS = ["Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-ID"]  # what MCP clients send to /mcp


class ApiSettings(Settings):
    """Settings of the server: the base settings plus where it listens (`VIDRAG_HOST`, `VIDRAG_PORT`)."""

    host: str = Field("127.0.0.1", description="Interface to listen on; beyond loopback needs VIDRAG_API_KEY.")
    port: int = Field(8000, ge=0, le=65535)


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to serve beyond loopback without an API key.

    Raises:
        InputError: `host` is not loopback and no key is set.
    """
    if not api_key and not is_loopback(host):
        raise InputError(
            f"Refusing to listen on {host} without an API key: anyone who can reach it could read and "
            "delete the library. Set VIDRAG_API_KEY (clients send it as the X-API-Key header), or "
            "listen on 127.0.0.1."
        )


def create_app(
    settings: Settings | None = None,
    library: Library | None = None,
    *,
    answer: Answerer | None = None,
) -> FastAPI:
    """Build the app.

    Args:
        settings: configuration; `ApiSettings` also says which host the server listens on (the key
            rule depends on it). Default: read from the environment.
        library: an open Library to serve (tests pass theirs; an embedded Qdrant folder admits one
            client). Default: opened from `settings` at startup, with an indexer, closed at shutdown.
        answer: the question answerer, with the contract of `vidrag.agent.answer_question`. Default: that
            function, imported on first use.

    Raises:
        InputError: listening beyond loopback with no API key.
    """
    settings = settings or ApiSettings()
    check_exposure(getattr(settings, "host", "127.0.0.1"), settings.api_key)
    app = FastAPI(
        title="vidrag",
        version="0.1.0",
        lifespan=_lifespan,
        description="Search and question a video library; answers cite moments that play in place.",
    )
    app.state.settings, app.state.library, app.state.answer = settings, library, answer
    app.state.api_key = settings.api_key or None
    _add_error_handlers(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=[str(o) for o in settings.cors_origins],
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type", "Authorization", *MCP_HEADERS],
            expose_headers=["Mcp-Session-Id"],
        )
    # outermost: peer, Host, Origin and docs checks; a native panic fails one request, not the app
    app.add_middleware(
        Guard,
        api_key=app.state.api_key,
        allowed_hosts=getattr(settings, "allowed_hosts", []),
        cors_origins=[str(o) for o in settings.cors_origins],
    )
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    from vidrag.api.routers import ask, files, generate, health, jobs, search, videos

    guarded = [Depends(require_api_key)]
    app.include_router(health.router)
    routers = (
        health.ready_router,
        videos.router,
        jobs.router,
        search.router,
        ask.router,
        generate.router,
        files.router,
    )
    for router in routers:
        app.include_router(router, dependencies=guarded)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if mcp_installed():
        from vidrag.api.mcp_server import MCP_PATH, McpEndpoint

        app.router.routes.append(Route(MCP_PATH, endpoint=McpEndpoint(), include_in_schema=False))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the library (unless injected) and run the job worker; nested lifespans share them.

    A test harness may run the lifespan of one app again while it is already running (e.g. one
    client per request): only the outermost one starts and stops the worker and library.
    """
    state = app.state
    if getattr(state, "jobs", None) is not None:
        yield
        return
    owned = state.library is None
    if owned:
        from vidrag.api.wiring import open_library

        state.library = open_library(state.settings, for_ingest=True)
    state.jobs = JobManager(state.library)
    resumed = state.jobs.start()
    log.info("vidrag API ready (%d job(s) resumed)", resumed)
    try:
        async with _mcp_session(state):
            yield
    finally:
        state.jobs.stop()
        state.jobs = None
        if owned:
            state.library.close()
            state.library = None


def mcp_installed() -> bool:
    """Whether the MCP SDK (the `mcp` extra) is installed, checked without importing it."""
    return importlib.util.find_spec("mcp") is not None


@asynccontextmanager
async def _mcp_session(state: State) -> AsyncIterator[None]:
    """Run the MCP server's HTTP sessions for `/mcp` while the app runs (nothing without the SDK)."""
    if not mcp_installed():
        yield
        return
    from vidrag.api.mcp_server import http_transport

    async with http_transport(state.library, getattr(state.settings, "host", "127.0.0.1")) as handler:
        state.mcp, state.mcp_expected = handler, True
        try:
            yield
        finally:
            state.mcp = None


def _add_error_handlers(app: FastAPI) -> None:
    async def vidrag_error(request: Request, err: Exception) -> JSONResponse:
        status, body = describe_error(err)
        if status == 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=err)
        return JSONResponse(body, status_code=status)

    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=err)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    async def invalid(request: Request, err: Exception) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(err)}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(VidragError, vidrag_error)
    app.add_exception_handler(Exception, unexpected)


def validation_errors(err: Exception) -> list[dict[str, JSON]]:
    """FastAPI's validation errors made safe to send: where, what and why, with the offending value as a
    short escaped repr (never raw: NaN, an infinity or a lone surrogate cannot be written as JSON text)."""
    out = []
    for item in getattr(err, "errors", lambda: [])():
        entry: dict[str, JSON] = {
            "loc": [part if isinstance(part, int) else _safe_text(str(part)) for part in item.get("loc", ())],
            "msg": _safe_text(str(item.get("msg", ""))),
            "type": str(item.get("type", "")),
        }
        if "input" in item and not isinstance(item["input"], (dict, list)):
            entry["input"] = _safe_text(repr(item["input"]), 120)
        out.append(entry)
    return out


def _safe_text(text: str, width: int = 300) -> str:
    """Text that encodes as UTF-8: lone surrogates escaped, cut to `width`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:width]
