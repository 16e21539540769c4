"""Files the tools wrote under the library's folder (cut clips, generated videos), for HTTP clients.

An MCP client over HTTP gets these as URLs (`/files/clips/NAME.mp4`) instead of paths on the server's
disk, and fetches them with the same key as every other route.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from vidrag.api.routers import LibraryDep
from vidrag.api.schemas import ErrorOut

router = APIRouter(prefix="/files", tags=["files"])
FOLDERS = ("clips", "generated")


@router.get(
    "/{folder}/{name}",
    response_class=FileResponse,
    responses={404: {"model": ErrorOut}},
    summary="A file the tools wrote: a cut clip or a generated video (mp4)",
)
def get_file(folder: str, name: str, library: LibraryDep) -> FileResponse:
    """Download a clip cut by `cut_clip` or a video made by `generate_talking_head`."""
    if folder not in FOLDERS or Path(name).name != name or not name.endswith(".mp4"):
        raise HTTPException(404, "no such file")
    path = library.data_dir / folder / name
    if not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type="video/mp4", filename=name)
