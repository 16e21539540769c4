"""Jobs: the state and progress of background ingests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from vidrag.api.routers import JobsDep
from vidrag.api.schemas import ErrorOut, JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut], summary="Recent jobs, newest first")
def list_jobs(
    jobs: JobsDep,
    status: str | None = Query(None, pattern="^(queued|running|done|failed)$"),
    limit: int = Query(50, ge=1, le=500),
) -> list[dict[str, Any]]:
    """The latest jobs, optionally only those with one status."""
    return jobs.latest(limit=limit, status=status)


@router.get("/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}}, summary="One job")
def get_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    """Status, progress (stage, files and clips done of total, percent) and result or error."""
    return jobs.get(job_id)
