"""Generation: talking-head clips (FramePack + voice) as background jobs.

The portrait is a frame of a library video (by id and time) or an image under the allowed roots;
the mp4 is written under the data folder and served by `GET /jobs/{id}/output`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import Field

from vidrag.api.routers import JobsDep, LibraryDep, SettingsDep, refusal
from vidrag.api.schemas import Body, ErrorOut, JobOut
from vidrag.storage.errors import VidragError
from vidrag.storage.jobs import Job
from vidrag.tools.intake import image_under

router = APIRouter(tags=["generate"])


class TalkingHeadIn(Body):
    """A talking-head request: a portrait (library video frame or allowed image path) and a script."""

    script: str = Field(min_length=1, max_length=4000, description="The words the person says.")
    video_id: str | None = Field(None, max_length=200, description="Take the portrait from this library video…")
    time: float = Field(0.0, ge=0, le=1e7, allow_inf_nan=False, description="…at this many seconds.")
    image_path: str | None = Field(None, max_length=4096, description="Or an image file under VIDRAG_ALLOWED_ROOTS.")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    steps: int = Field(25, ge=1, le=100)
    variant: str = Field("framepack", pattern="^(framepack|framepack-f1)$")
    voice: str = Field("espeak", max_length=200)
    tiny: bool = Field(False, description="Tiny random weights: the real pipeline as a demo, no download.")


@router.post(
    "/generate/talking-head",
    status_code=202,
    response_model=JobOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Generate a talking-head clip from a portrait and a script (a background job)",
)
def talking_head(body: TalkingHeadIn, library: LibraryDep, jobs: JobsDep, settings: SettingsDep) -> Job:
    """Queue a FramePack talking-head generation; progress and the result appear in `/jobs/{id}`."""
    if not body.script.strip():
        raise HTTPException(422, "script is empty")
    from vidrag.tools.talking_head import TalkingHeadRequest

    if body.video_id:
        record = library.video_by_id(body.video_id)
        if body.time > record.duration:
            raise HTTPException(422, "time is past the end of the video")
        image, frame_time = record.path, body.time
    elif body.image_path:
        try:
            image, frame_time = image_under(body.image_path, settings.allowed_roots), None
        except VidragError as err:
            raise refusal(err) from err
    else:
        raise HTTPException(422, "give video_id (and time) or image_path")
    request = TalkingHeadRequest(
        image=image,
        script=body.script,
        frame_time=frame_time,
        seed=body.seed,
        steps=body.steps,
        variant=body.variant,
        voice=body.voice,
        tiny=body.tiny,
    )
    return jobs.submit("talking_head", request.to_dict())


@router.get(
    "/jobs/{job_id}/output",
    responses={404: {"model": ErrorOut}},
    summary="The file a finished generation job made (an mp4)",
)
def job_output(job_id: str, jobs: JobsDep) -> FileResponse:
    """Download a finished talking-head job's mp4."""
    job = jobs.get(job_id)
    video = (job.get("result") or {}).get("video")
    if job["status"] != "done" or not isinstance(video, str) or not video or not Path(video).is_file():
        raise HTTPException(404, "this job has no output (yet)")
    return FileResponse(video, media_type="video/mp4", filename=Path(video).name)
