"""Videos: add (upload or server path) as a background job, list, look up, delete, stream, thumbnail.

Safety rules live here: a server path must lie under `allowed_roots` after resolving symlinks and
may not contain `..`; an upload is limited in size while it is read, and must be a video by its
bytes (container signature, then a probe that finds a decodable video stream), whatever its name.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError

from vidrag.api.jobs import write_lock
from vidrag.api.routers import JobsDep, LibraryDep, SettingsDep
from vidrag.api.schemas import ErrorOut, JobOut, PathIn, VideoOut
from vidrag.storage.errors import InputError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/videos", tags=["videos"])

_MIB = 1 << 20
_CHUNK = 1 << 20
_FRAMING = 256 * 1024  # multipart boundaries and headers around the file
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (401, 404, 422)}
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        "application/json": {"schema": PathIn.model_json_schema()},
    },
}


# add ------------------------------------------------------------------------------------------

@router.post(
    "", status_code=202, response_model=JobOut, openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={**_ERRORS, 403: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
    summary="Add a video: upload a file, or name a file or folder under an allowed root",
)
async def add_video(request: Request, jobs: JobsDep, settings: SettingsDep, library: LibraryDep) -> dict[str, Any]:
    """Start an ingestion job; poll `GET /jobs/{id}` for its progress."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _add_upload(request, jobs, settings, library)
    if content_type == "application/json":
        try:
            body = PathIn.model_validate_json(await request.body())
        except ValidationError as err:
            raise HTTPException(422, "body must be {\"path\": \"...\"}") from err
        paths = await run_in_threadpool(_allowed_paths, body.path, settings.allowed_roots)
        return jobs.submit("ingest", {"paths": paths, "source": "path", "name": body.path})
    raise HTTPException(415, "send multipart/form-data with a file, or JSON {\"path\": ...}")


async def _add_upload(request: Request, jobs: JobsDep, settings: SettingsDep, library: LibraryDep) -> dict[str, Any]:
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
        stored, video_id = await run_in_threadpool(_store_upload, upload.file, upload.filename or "", settings.home, limit)
    finally:
        await form.close()
    params = {"paths": [str(stored)], "source": "upload", "name": stored.name, "video_id": video_id}
    known = _indexed_copy(library, video_id)
    if known is not None and known != stored:
        shutil.rmtree(stored.parent, ignore_errors=True)
        result = {"files": [], "counts": {"indexed": 0, "unchanged": 1, "failed": 0}, "video_ids": [video_id]}
        return jobs.submit("ingest", {**params, "paths": [str(known)]}, result=result)
    return jobs.submit("ingest", params)


def _limited_receive(receive: Any, limit: int) -> Any:
    """Wrap an ASGI receive so that a body over `limit` bytes fails while it is being read."""
    seen = 0

    async def inner() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, "upload too large")
        return message

    return inner


def _store_upload(source: Any, filename: str, home: Path, limit: int) -> tuple[Path, str]:
    """Copy an upload under home/uploads/<video id>/, checking size and content on the way.

    Returns:
        The stored file and its video id.

    Raises:
        HTTPException: 413 over the limit; 422 when the bytes are not a video.
    """
    from vidrag.indexing.media import probe
    from vidrag.storage.ids import video_id_from_hash

    uploads = home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    tmp = uploads / f".incoming-{uuid.uuid4().hex}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, "upload too large")
                digest.update(chunk)
                out.write(chunk)
        with open(tmp, "rb") as handle:
            head = handle.read(512)
        if not looks_like_video(head):
            raise HTTPException(422, "not a video")
        try:
            probe(tmp)
        except InputError as err:
            raise HTTPException(422, "not a video") from err
        video_id = video_id_from_hash(digest.hexdigest())
        final = uploads / video_id / _safe_name(filename, head)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final, video_id
    finally:
        tmp.unlink(missing_ok=True)


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes of a file carry the signature of a video container."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True  # ISO base media (mp4, mov, m4v, 3gp)
    signatures = (b"\x1a\x45\xdf\xa3", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"FLV\x01", b"OggS",
                  b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")  # matroska/webm, mpeg-ps, mpeg-es, flv, ogg, asf
    if head.startswith(signatures):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return len(head) > 376 and head[0] == head[188] == head[376] == 0x47  # mpeg transport stream


def _safe_name(filename: str, head: bytes) -> str:
    from vidrag.indexing.pipeline import VIDEO_SUFFIXES

    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename.replace("\\", "/")).name).strip(" .")[:120]
    stem, suffix = os.path.splitext(name or "upload")
    if suffix.lower() not in VIDEO_SUFFIXES:
        stem, suffix = stem or "upload", ".webm" if head.startswith(b"\x1a\x45\xdf\xa3") else ".mp4"
    return f"{stem or 'upload'}{suffix}"


def _indexed_copy(library: Any, video_id: str) -> Path | None:
    """The file of an already indexed video with this id, if it is still there."""
    from vidrag.storage.errors import NotFound

    try:
        record = library.catalog.get_video(video_id)
    except NotFound:
        return None
    path = Path(record.path)
    return path if record.status == "indexed" and path.is_file() else None


def _allowed_paths(raw: str, roots: list[Path]) -> list[str]:
    """The video files named by a server path, if it lies under an allowed root.

    Raises:
        HTTPException: 403 when path ingestion is off or the path escapes the roots, 422 when
            nothing there is a video file.
    """
    from vidrag.indexing.pipeline import VIDEO_SUFFIXES

    if not roots:
        raise HTTPException(403, "path ingestion is disabled: set VIDRAG_ALLOWED_ROOTS")
    if "\x00" in raw or not os.path.isabs(raw):
        raise HTTPException(422, "path must be absolute")
    if ".." in Path(raw).parts:
        raise HTTPException(403, "path must not contain '..'")
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    target = Path(os.path.realpath(raw))
    if not _inside(target, real_roots):
        raise HTTPException(403, "path is outside the allowed roots")
    try:
        if target.is_file():
            return [str(target)]
        if not target.is_dir():
            raise HTTPException(422, "no such file or folder")
        files = sorted(p for p in target.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    except OSError as err:
        raise HTTPException(422, "path cannot be read") from err
    real = [Path(os.path.realpath(p)) for p in files]
    inside = list(dict.fromkeys(str(p) for p in real if _inside(p, real_roots)))
    if not inside:
        raise HTTPException(422, "no video files found")
    return inside


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


# read, delete, stream ---------------------------------------------------------------------------

@router.get("", response_model=list[VideoOut], summary="List the videos in the library")
def list_videos(library: LibraryDep) -> list[VideoOut]:
    """Every video with its ingestion status, by path."""
    return [VideoOut.from_record(record) for record in library.videos()]


@router.get("/{video_id}", response_model=VideoOut, responses=_ERRORS, summary="One video")
def get_video(video_id: str, library: LibraryDep) -> VideoOut:
    """A video by its id."""
    return VideoOut.from_record(library.catalog.get_video(video_id))


@router.delete("/{video_id}", response_model=VideoOut, responses={**_ERRORS, 409: {"model": ErrorOut}},
               summary="Remove a video from the library")
def delete_video(video_id: str, library: LibraryDep, settings: SettingsDep) -> VideoOut:
    """Remove a video's clips and catalog row; an uploaded copy is deleted, other files are left alone."""
    record = library.catalog.get_video(video_id)
    lock = write_lock(library)
    if not lock.acquire(timeout=10):
        raise HTTPException(409, "busy: an ingest is running; retry when it finishes")
    try:
        library.delete(record.id)
    finally:
        lock.release()
    uploads = (settings.home / "uploads").resolve()
    if uploads in Path(record.path).resolve().parents:
        shutil.rmtree(uploads / record.id, ignore_errors=True)
    shutil.rmtree(settings.home / "thumbs" / record.id, ignore_errors=True)
    return VideoOut.from_record(record)


@router.get("/{video_id}/media", response_class=FileResponse, responses=_ERRORS,
            summary="The video file, with HTTP Range support (seekable)")
def media(video_id: str, library: LibraryDep) -> FileResponse:
    """Stream the video; `Range: bytes=...` gives 206 partial content."""
    record = library.catalog.get_video(video_id)
    path = Path(record.path)
    if not path.is_file():
        raise HTTPException(404, "media file missing")
    kind = mimetypes.guess_type(path.name)[0] or "video/mp4"
    return FileResponse(path, media_type=kind, content_disposition_type="inline", filename=path.name)


@router.get("/{video_id}/thumbnail", response_class=FileResponse, responses=_ERRORS,
            summary="A JPEG frame of the video at a time")
def thumbnail(video_id: str, library: LibraryDep, settings: SettingsDep,
              t: float = Query(0.0, ge=0, le=1e7, allow_inf_nan=False, description="Seconds.")) -> FileResponse:
    """The frame nearest `t` seconds (clamped to the video), 320 px wide at most, cached on disk."""
    record = library.catalog.get_video(video_id)
    if not Path(record.path).is_file():
        raise HTTPException(404, "media file missing")
    tenth = int(round(min(t, max(0.0, record.duration - 0.05)) * 10))
    cached = settings.home / "thumbs" / record.id / f"{tenth:07d}.jpg"
    if not cached.is_file():
        _render_thumbnail(record.path, tenth / 10, cached)
    return FileResponse(cached, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


def _render_thumbnail(path: str, seconds: float, out: Path) -> None:
    from PIL import Image

    from vidrag.indexing.media import probe, read_frames_at

    info = probe(path)
    frames = read_frames_at(path, info, [seconds], max_side=320)
    if not frames:
        raise InputError(f"no frame could be read at {seconds:.1f}s")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{uuid.uuid4().hex}.tmp")
    Image.fromarray(frames[0]).save(tmp, format="JPEG", quality=82)
    os.replace(tmp, out)

