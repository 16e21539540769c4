"""Taking files in from outside: uploads and server paths, checked before anything reads them.

An upload is copied under the library's `uploads/<video id>/` folder with its size limited while it
is read, and must be a video by its bytes (a container signature, then a probe that finds a
decodable video stream), whatever its name. A server path must lie under an allowed root after
symlinks are resolved, and may not contain `..`. Refusals raise `Forbidden` (configuration says
no), `TooLarge` or `InputError` with a short message that front ends can show as it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from vidrag.indexing.media import probe
from vidrag.indexing.pipeline import VIDEO_SUFFIXES
from vidrag.storage.errors import Forbidden, InputError, TooLarge
from vidrag.storage.ids import video_id_from_hash

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_CHUNK = 1 << 20


def store_upload(source: BinaryIO, filename: str, uploads: Path, limit: int) -> tuple[Path, str]:
    """Copy an upload to `uploads/<video id>/<safe name>`, checking size and content on the way.

    Returns:
        The stored file and its video id (from the content hash, as ingest computes it).

    Raises:
        TooLarge: more than `limit` bytes.
        InputError: the bytes are not a video.
    """
    uploads.mkdir(parents=True, exist_ok=True)
    tmp = uploads / f".incoming-{uuid.uuid4().hex}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge("upload too large")
                digest.update(chunk)
                out.write(chunk)
        with open(tmp, "rb") as handle:
            head = handle.read(512)
        if not looks_like_video(head):
            raise InputError("not a video")
        try:
            probe(tmp)
        except InputError as err:
            raise InputError("not a video") from err
        video_id = video_id_from_hash(digest.hexdigest())
        final = uploads / video_id / safe_name(filename, head)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final, video_id
    finally:
        tmp.unlink(missing_ok=True)


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes of a file carry the signature of a video container."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True  # ISO base media (mp4, mov, m4v, 3gp)
    signatures = (
        b"\x1a\x45\xdf\xa3",
        b"\x00\x00\x01\xba",
        b"\x00\x00\x01\xb3",
        b"FLV\x01",
        b"OggS",
        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",
    )  # matroska/webm, mpeg-ps, mpeg-es, flv, ogg, asf
    if head.startswith(signatures):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return len(head) > 376 and head[0] == head[188] == head[376] == 0x47  # mpeg transport stream


def safe_name(filename: str, head: bytes) -> str:
    """A harmless file name for an upload, keeping a video suffix (from the bytes when the name has none)."""
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename.replace("\\", "/")).name).strip(" .")[:120]
    stem, suffix = os.path.splitext(name or "upload")
    if suffix.lower() not in VIDEO_SUFFIXES:
        stem, suffix = stem or "upload", ".webm" if head.startswith(b"\x1a\x45\xdf\xa3") else ".mp4"
    return f"{stem or 'upload'}{suffix}"


def video_files_under(raw: str, roots: list[Path]) -> list[str]:
    """The video files named by a server path (a file, or a folder searched recursively).

    Raises:
        Forbidden: no roots are configured, or the path escapes them.
        InputError: the path is not absolute, cannot be read, or holds no video file.
    """
    target, real_roots = _resolve_under(raw, roots, disabled="path ingestion is disabled")
    try:
        if target.is_file():
            return [str(target)]
        if not target.is_dir():
            raise InputError("no such file or folder")
        files = sorted(p for p in target.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    except OSError as err:
        raise InputError("path cannot be read") from err
    real = [Path(os.path.realpath(p)) for p in files]
    inside = list(dict.fromkeys(str(p) for p in real if is_inside(p, real_roots)))
    if not inside:
        raise InputError("no video files found")
    return inside


def image_under(raw: str, roots: list[Path]) -> str:
    """An image file named by a server path under the allowed roots (e.g. a portrait).

    Raises:
        Forbidden: no roots are configured, or the path escapes them.
        InputError: not a PNG, JPEG or WebP name, not absolute, or no such file.
    """
    if Path(raw).suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError("image_path must be a PNG, JPEG or WebP image")
    target, _ = _resolve_under(raw, roots, disabled="server paths are disabled")
    if not target.is_file():
        raise InputError("no such file")
    return str(target)


def is_inside(path: Path, roots: list[Path]) -> bool:
    """Whether `path` is one of `roots` or lies below one (compare resolved paths)."""
    return any(path == root or root in path.parents for root in roots)


def _resolve_under(raw: str, roots: list[Path], *, disabled: str) -> tuple[Path, list[Path]]:
    if not roots:
        raise Forbidden(f"{disabled}: set VIDRAG_ALLOWED_ROOTS")
    if "\x00" in raw or not os.path.isabs(raw):
        raise InputError("path must be absolute")
    if ".." in Path(raw).parts:
        raise Forbidden("path must not contain '..'")
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    target = Path(os.path.realpath(raw))
    if not is_inside(target, real_roots):
        raise Forbidden("path is outside the allowed roots")
    return target, real_roots
