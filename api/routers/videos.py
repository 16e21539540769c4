"""Videos: add (upload or server path) as a background job, list, look up, delete, stream, thumbnail.

HTTP only: the safety rules (server paths under `allowed_roots`, uploads limited in size and checked
to be videos by their bytes) live in `vidrag.tools.intake`, behind `Library`. The request body's size
is also limited here, while it is read, before the multipart parser sees it.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError

from vidrag.api.jobs import write_lock
from vidrag.api.routers import JobsDep, LibraryDep, SettingsDep, is_owner, refusal
from vidrag.api.schemas import ErrorOut, JobOut, PathIn, VideoOut
from vidrag.storage.errors import MediaMissing, VidragError
from vidrag.storage.jobs import Job
from vidrag.storage.types import JSON
from vidrag.tools.intake import video_files_under

if TYPE_CHECKING:
    from starlette.types import Message, Receive

log = logging.getLogger(__name__)
router = APIRouter(prefix="/videos", tags=["videos"])

_MIB = 1 << 20
_CHUNK = 1 << 20
_FRAMING = 256 * 1024  # multipart boundaries and headers around the file
_ERRORS: dict[int | str, dict[str, JSON]] = {code: {"model": ErrorOut} for code in (401, 404, 422)}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        "application/json": {"schema": PathIn.model_json_schema()},
    },
}


# add ------------------------------------------------------------------------------------------


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={**_ERRORS, 403: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
    summary="Add a video: upload a file, or name a file or folder under an allowed root",
)
async def add_video(request: Request, jobs: JobsDep, settings: SettingsDep, library: LibraryDep) -> Job:
    """Start an ingestion job; poll `GET /jobs/{id}` for its progress."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _add_upload(request, jobs, settings, library)
    if content_type == "application/json":
        try:
            body = PathIn.model_validate_json(await request.body())
        except ValidationError as err:
            raise HTTPException(422, 'body must be {"path": "..."}') from err
        try:
            roots = [Path("/")] if is_owner(request) else settings.allowed_roots
            paths = await run_in_threadpool(video_files_under, body.path, roots)
        except VidragError as err:
            raise refusal(err) from err
        return jobs.submit("ingest", {"paths": paths, "source": "path", "name": body.path})
    raise HTTPException(415, 'send multipart/form-data with a file, or JSON {"path": ...}')


async def _add_upload(request: Request, jobs: JobsDep, settings: SettingsDep, library: LibraryDep) -> Job:
    limit = settings.max_upload_mb * _MIB
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + _FRAMING:
        raise HTTPException(413, "upload too large")
    limited = Request(request.scope, receive=_limited_receive(request.receive, limit + _FRAMING))
    form = await limited.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "no file: send the video in the multipart field 'file'")
        if upload.size is not None and upload.size > limit:
            raise HTTPException(413, "upload too large")
        try:
            stored, video_id = await run_in_threadpool(library.store_upload, upload.file, upload.filename or "", limit)
        except VidragError as err:
            raise refusal(err) from err
    finally:
        await form.close()
    params = {"paths": [str(stored)], "source": "upload", "name": stored.name, "video_id": video_id}
    known = library.indexed_copy(video_id)
    if known is not None and known != stored:
        shutil.rmtree(stored.parent, ignore_errors=True)
        result = {"files": [], "counts": {"indexed": 0, "unchanged": 1, "failed": 0}, "video_ids": [video_id]}
        return jobs.submit("ingest", {**params, "paths": [str(known)]}, result=result)
    return jobs.submit("ingest", params)


def _limited_receive(receive: Receive, limit: int) -> Receive:
    """Wrap an ASGI receive so that a body over `limit` bytes fails while it is being read."""
    seen = 0

    async def inner() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, "upload too large")
        return message

    return inner


# read, delete, stream ---------------------------------------------------------------------------


@router.get("", response_model=list[VideoOut], summary="List the videos in the library")
def list_videos(library: LibraryDep) -> list[VideoOut]:
    """Every video with its ingestion status, by path."""
    return [VideoOut.from_record(record) for record in library.videos()]


@router.get("/{video_id}", response_model=VideoOut, responses=_ERRORS, summary="One video")
def get_video(video_id: str, library: LibraryDep) -> VideoOut:
    """A video by its id."""
    return VideoOut.from_record(library.video_by_id(video_id))


@router.delete(
    "/{video_id}",
    response_model=VideoOut,
    responses={**_ERRORS, 409: {"model": ErrorOut}},
    summary="Remove a video from the library",
)
def delete_video(video_id: str, library: LibraryDep) -> VideoOut:
    """Remove a video's clips and catalog row; an uploaded copy is deleted, other files are left alone."""
    record = library.video_by_id(video_id)
    lock = write_lock(library)
    if not lock.acquire(timeout=10):
        raise HTTPException(409, "busy: an ingest is running; retry when it finishes")
    try:
        library.delete(record.id)
    finally:
        lock.release()
    return VideoOut.from_record(record)


@router.get(
    "/{video_id}/media",
    response_class=FileResponse,
    responses=_ERRORS,
    summary="The video file, with HTTP Range support (seekable)",
)
def media(video_id: str, library: LibraryDep) -> FileResponse:
    """Stream the video; `Range: bytes=...` gives 206 partial content."""
    try:
        path = library.media_path(video_id)
    except MediaMissing as err:
        raise HTTPException(404, "media file missing") from err
    kind = mimetypes.guess_type(path.name)[0] or "video/mp4"
    return FileResponse(path, media_type=kind, content_disposition_type="inline", filename=path.name)


# HEAD gives the headers of GET (size, type, Accept-Ranges) without the body; one operation in the schema
router.add_api_route("/{video_id}/media", media, methods=["HEAD"], include_in_schema=False)


@router.get(
    "/{video_id}/thumbnail",
    response_class=FileResponse,
    responses=_ERRORS,
    summary="A JPEG frame of the video at a time",
)
def thumbnail(
    video_id: str, library: LibraryDep, t: float = Query(0.0, ge=0, le=1e7, allow_inf_nan=False, description="Seconds.")
) -> FileResponse:
    """The frame nearest `t` seconds (clamped to the video), 320 px wide at most, cached on disk."""
    try:
        cached = library.thumbnail(video_id, t)
    except MediaMissing as err:
        raise HTTPException(404, "media file missing") from err
    return FileResponse(cached, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})
