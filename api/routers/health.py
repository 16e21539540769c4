"""Health: `/health` says the process is up; `/ready` checks every backend the app relies on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import State

from vidrag.api.routers import LibraryDep, SettingsDep
from vidrag.api.schemas import CheckOut, ReadyOut
from vidrag.storage.errors import LibraryBroken

if TYPE_CHECKING:
    from vidrag.api.settings import Settings
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
ready_router = APIRouter(tags=["health"])
_TIMEOUT = 2.0


@router.get("/health", summary="Liveness: the process answers and its library is open")
def health(request: Request) -> JSONResponse:
    """`{"status": "ok"}` while the server runs with its library open and its job worker alive; else 503
    with what broke (restart the server). It touches no backend (`/ready` does)."""
    problems = broken_parts(request.app.state)
    if problems:
        return JSONResponse({"status": "broken", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ok"})


def broken_parts(state: State) -> list[str]:
    """What of the app's running state is gone: the library, the ingest worker, the MCP sessions."""
    problems = []
    library = getattr(state, "library", None)
    if library is None or getattr(library, "closed", False):
        problems.append("the library is closed")
    jobs = getattr(state, "jobs", None)
    if jobs is None or not jobs.alive():
        problems.append("the ingest worker is stopped")
    if getattr(state, "mcp_expected", False) and getattr(state, "mcp", None) is None:
        problems.append("the MCP server is stopped")
    return problems


@ready_router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut}},
    summary="Readiness: Qdrant, embedder, captioner and LLM",
)
async def ready(library: LibraryDep, settings: SettingsDep) -> JSONResponse:
    """Each backend checked once; 200 when all are usable, else 503 with what failed."""
    checks = {
        "qdrant": await _check(lambda: _store(library)),
        "embedder": await _check(library.embedder_name),
        "captioner": await _check(lambda: _captioner(library, settings)),
        "llm": await _check(lambda: _llm(settings)),
    }
    body = ReadyOut(ready=all(c.ok for c in checks.values()), checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


async def _check(probe: Callable[[], str]) -> CheckOut:
    try:
        return CheckOut(ok=True, detail=await run_in_threadpool(probe))
    except Exception as err:  # noqa: BLE001 - every failure is a not-ready check, never a 500
        log.warning("readiness check failed: %s", err)
        return CheckOut(ok=False, detail=f"{type(err).__name__}: {str(err)[:600]}")


def _store(library: Library) -> str:
    """The store's point count, once it is known to hold every indexed video's clips."""
    damage = library.damage()
    if damage is not None:
        raise LibraryBroken(damage.summary())
    return library.index_status().summary()


def _captioner(library: Library, settings: Settings) -> str:
    captioner = library.captioner
    if captioner is None:
        return "none loaded (read-only library)"
    url = getattr(captioner, "url", None)
    if url:
        _reach(url, settings.captioner_api_key)
        return f"{captioner.name} at {url}"
    return f"{captioner.name} (in process)"


def _llm(settings: Settings) -> str:
    if not settings.llm_url:
        return "not configured: answers are composed without an LLM"
    _reach(settings.llm_url.rstrip("/"), settings.llm_api_key)
    return f"{settings.llm_model} at {settings.llm_url}"


def _reach(url: str, api_key: str | None) -> None:
    """GET {url}/models; raise unless the server answers below HTTP 500."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.get(f"{url}/models", headers=headers, timeout=_TIMEOUT)
    if response.status_code >= 500:
        raise ConnectionError(f"HTTP {response.status_code}")
