"""Search: moments of the library that match a query, with filters by video and time range."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from vidrag.api.routers import LibraryDep
from vidrag.api.schemas import ErrorOut, HitOut, SearchIn, SearchOut

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchOut,
    responses={c: {"model": ErrorOut} for c in (404, 422, 503)},
    summary="Find the moments that match a query",
)
async def search(body: SearchIn, library: LibraryDep) -> SearchOut:
    """Hybrid (meaning + words) search over clips; each hit has start and end in seconds."""
    videos = [*(body.videos or []), *([body.video] if body.video else [])] or None
    started = time.perf_counter()
    hits = await run_in_threadpool(
        library.search,
        body.query,
        k=body.top_k,
        video=videos,
        start=body.start,
        end=body.end,
        mode=body.mode.value if body.mode else None,
        kind=body.kind.value,
    )
    took = (time.perf_counter() - started) * 1000
    return SearchOut(hits=[HitOut.from_hit(hit) for hit in hits], took_ms=round(took, 2))
