"""Jobs: the state and progress of background jobs (ingests, talking heads), and cancelling them."""

from __future__ import annotations

from fastapi import APIRouter, Query

from vidrag.api.routers import JobsDep
from vidrag.api.schemas import ErrorOut, JobOut
from vidrag.storage.jobs import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut], summary="Recent jobs, newest first")
def list_jobs(
    jobs: JobsDep,
    status: str | None = Query(None, pattern="^(queued|running|done|failed|cancelled)$"),
    limit: int = Query(50, ge=1, le=500),
) -> list[Job]:
    """The latest jobs, optionally only those with one status."""
    return jobs.latest(limit=limit, status=status)


@router.get("/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}}, summary="One job")
def get_job(job_id: str, jobs: JobsDep) -> Job:
    """Status, progress (stage, files and clips done of total, percent) and result or error."""
    return jobs.get(job_id)


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Cancel a queued job, or a running talking-head job after its current denoising step",
)
def cancel_job(job_id: str, jobs: JobsDep) -> Job:
    """A queued job becomes `cancelled` at once; a running talking-head job stops after its current
    denoising step (it shows `running` until then, then `cancelled`, and leaves no output)."""
    return jobs.cancel(job_id)
