"""The library: one object over the catalog, the clip store and the models, for every front end.

The CLI, the REST API, notebooks and the agent's tools all go through it, so they agree on how a
video is named (id, id prefix, path or file name), how search filters work, and what errors say.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from cachetools import LRUCache

from vidrag.indexing.asr import Segment, Transcript
from vidrag.indexing.captioners.base import Captioner, ClipFrames
from vidrag.indexing.distributed import PartFactory, RunProgress
from vidrag.indexing.embed import Embedder
from vidrag.indexing.media import probe, read_frames_at
from vidrag.indexing.pipeline import Indexer, IngestResult, Progress
from vidrag.indexing.stages import cached_transcripts
from vidrag.storage import integrity as state_check
from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import InputError, LibraryBroken, MediaMissing, NotFound
from vidrag.storage.index_policy import IndexStatus
from vidrag.storage.jobs import JobStore
from vidrag.storage.qdrant_store import ClipStore
from vidrag.storage.types import Clip, Hit, VideoRecord
from vidrag.tools.intake import store_upload

log = logging.getLogger(__name__)


VECTOR_CACHE_SIZE = 4096  # texts whose vectors `Library.similarity` keeps
MAX_K = 1000  # hits one search may ask for


class Library:
    """A video library: ingest, search, read transcripts, look again at clips, cut clips out."""

    def __init__(
        self,
        *,
        store: ClipStore,
        catalog: Catalog,
        embedder: Embedder,
        indexer: Indexer | None = None,
        captioner: Captioner | None = None,
        cache_dir: str | Path | None = None,
        search_mode: str = "hybrid",
        allowed_roots: Iterable[str | Path] = (),
    ) -> None:
        self.store, self.catalog, self.embedder = store, catalog, embedder
        self.allowed_roots = [Path(root) for root in allowed_roots]  # where server-side paths may point
        self.closed = False
        self.jobs = JobStore(catalog)
        self.indexer, self.captioner = indexer, captioner
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.search_mode = search_mode
        # text -> unit vector: answers rank the same clips' lines again and again (about 3 KB each)
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=VECTOR_CACHE_SIZE)
        self._vectors_lock = threading.Lock()

    @property
    def data_dir(self) -> Path:
        """The folder that holds the catalog, where uploads, thumbnails, sessions and generated files
        go too (a temporary folder for an in-memory catalog)."""
        if str(self.catalog.path) == ":memory:":
            return Path(tempfile.gettempdir()) / "vidrag"
        return Path(self.catalog.path).parent

    def close(self) -> None:
        """Release the store (flushing it) and the catalog; the captioner's models too."""
        self.closed = True
        self.store.close()
        self.catalog.close()
        if self.captioner is not None:
            self.captioner.close()

    # ingest -----------------------------------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None) -> list[IngestResult]:
        self._check_open()
        if self.indexer is None:
            raise InputError("this library was opened read-only (no indexer); open it with an indexer to ingest.")
        return self.indexer.ingest(paths, progress)

    def ingest_on_ray(
        self,
        paths: Iterable[str | Path],
        *,
        build: PartFactory,
        address: str | None = None,
        workers: int = 0,
        direct_write: bool = False,
        progress: RunProgress | None = None,
    ) -> list[IngestResult]:
        """Ingest on a Ray cluster: the same stages and results as `ingest`, on many workers (see
        `vidrag.indexing.distributed.ingest_on_ray` for the arguments). Ray is imported only then.
        """
        if self.indexer is None:
            raise InputError("this library was opened read-only (no indexer); open it with an indexer to ingest.")
        from vidrag.indexing.distributed import ingest_on_ray

        return ingest_on_ray(
            self.indexer,
            paths,
            build=build,
            address=address,
            workers=workers,
            direct_write=direct_write,
            progress=progress,
        )

    # videos -----------------------------------------------------------------------------------

    def videos(self) -> list[VideoRecord]:
        return self.catalog.list_videos()

    def video(self, key: str) -> VideoRecord:
        """A video by id, id prefix, path or file name (raises NotFound, naming `vidrag videos`)."""
        return self.catalog.find_video(valid_text("video", key))

    def video_by_id(self, video_id: str) -> VideoRecord:
        """A video by its exact id only (raises NotFound)."""
        return self.catalog.get_video(valid_text("video id", video_id))

    def delete(self, key: str) -> VideoRecord:
        """Remove a video's clips, catalog row, thumbnails and uploaded copy; other files are left alone."""
        record = self.video(key)
        self.store.delete_video(record.id)
        self.catalog.delete_video(record.id)
        if self.uploads_dir.resolve() in Path(record.path).resolve().parents:
            shutil.rmtree(self.uploads_dir / record.id, ignore_errors=True)
        shutil.rmtree(self.data_dir / "thumbs" / record.id, ignore_errors=True)
        return record

    # intake -----------------------------------------------------------------------------------

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded videos are kept, one folder per video id."""
        return self.data_dir / "uploads"

    def store_upload(self, source: BinaryIO, filename: str, limit: int) -> tuple[Path, str]:
        """Keep an uploaded video under `uploads_dir` (see `tools.intake.store_upload`).

        Raises:
            TooLarge: more than `limit` bytes.
            InputError: the bytes are not a video.
        """
        return store_upload(source, filename, self.uploads_dir, limit)

    def indexed_copy(self, video_id: str) -> Path | None:
        """The file of an already indexed video with this id, if it is still there."""
        try:
            record = self.catalog.get_video(video_id)
        except NotFound:
            return None
        path = Path(record.path)
        return path if record.status in ("indexed", "partial") and path.is_file() else None

    def media_path(self, video_id: str) -> Path:
        """The file of a video (exact id).

        Raises:
            NotFound: no such video.
            MediaMissing: the catalog knows it but the file is gone.
        """
        return _media_file(self.video_by_id(video_id))

    def thumbnail(self, video_id: str, seconds: float) -> Path:
        """A JPEG of the frame nearest `seconds` (clamped to the video), 320 px at most, cached on disk.

        Raises:
            NotFound: no such video.
            MediaMissing: its file is gone.
            InputError: no frame could be decoded there, or `seconds` is not a finite number.
        """
        self._check_open()
        seconds = finite("t", seconds)
        record = self.video_by_id(video_id)
        _media_file(record)
        tenth = int(round(min(seconds, max(0.0, record.duration - 0.05)) * 10))
        cached = self.data_dir / "thumbs" / record.id / f"{tenth:07d}.jpg"
        if not cached.is_file():
            _render_jpeg(record.path, tenth / 10, cached, max_side=320)
        return cached

    # state ------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise LibraryBroken("The library is closed (the server is shutting down or lost it); restart vidrag.")

    def integrity(self) -> state_check.IntegrityReport:
        """The catalog compared with the store: indexed videos whose points the store lacks (`vidrag doctor`)."""
        self._check_open()
        return state_check.check(self.catalog, self.store)

    def damage(self) -> state_check.IntegrityReport | None:
        """The integrity report when the store lacks points the catalog needs, else None; two counts
        decide when nothing is missing (`integrity.probably_whole`), one scroll of the store otherwise."""
        self._check_open()
        if state_check.probably_whole(self.catalog, self.store):
            return None
        report = state_check.check(self.catalog, self.store)
        return None if report.ok else report

    def repair(self, progress: Progress | None = None) -> list[IngestResult]:
        """Ingest again every indexed video whose points the store lacks (their files must still be there).

        Raises:
            InputError: the library was opened without an indexer.
        """
        damaged = self.integrity().damaged
        if not damaged:
            return []
        missing = [video for video in damaged if not Path(video.path).is_file()]
        results = self.ingest([video.path for video in damaged if video not in missing], progress)
        for video in missing:
            message = (
                f"{video.path}: the file is gone, so video {video.video_id} cannot be rebuilt; restore the file "
                f"and run `vidrag doctor --repair` again, or `vidrag delete {video.video_id}`."
            )
            results.append(IngestResult(video.path, "failed", video.video_id, error=message))
        return results

    # backends ---------------------------------------------------------------------------------

    def point_count(self) -> int:
        """How many clips the vector store holds (reads the store: a readiness check)."""
        self._check_open()
        return self.store.count()

    def index_status(self) -> IndexStatus:
        """The store's points, how they are searched (exact / approximate) and its optimiser's state."""
        return self.store.index_status()

    def embedder_name(self) -> str:
        """The embedding model and its dimension, e.g. `all-MiniLM-L6-v2 (384-d)`."""
        return f"{self.embedder.model_name} ({self.embedder.dim}-d)"

    def similarity(self, query: str, texts: list[str]) -> list[float]:
        """Cosine similarity of `query` to each text, with the library's embedder."""
        if not texts:
            return []
        vectors = self._embed([query, *texts])
        return [float(score) for score in vectors[1:] @ vectors[0]]

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Dense vectors for `texts`, embedding only those not embedded recently."""
        unique = list(dict.fromkeys(texts))
        with self._vectors_lock:
            known = {text: self._vectors[text] for text in unique if text in self._vectors}
        missing = [text for text in unique if text not in known]
        if missing:
            fresh = dict(zip(missing, np.asarray(self.embedder.query_dense(missing), dtype=np.float64)))
            with self._vectors_lock:
                self._vectors.update(fresh)
            known.update(fresh)
        return np.stack([known[text] for text in texts])

    def clips(self, key: str) -> list[Clip]:
        self._check_open()
        return self.store.clips(self.video(key).id)

    # search -----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        video: str | list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        mode: str | None = None,
        kind: str = "clip",
    ) -> list[Hit]:
        """Clips (or, with kind="video", whole videos) that match a query by meaning and by words.

        Raises:
            InputError: empty query, k < 1, a time that is not a finite number, or start >= end.
            NotFound: an unknown video.
            LibraryBroken: nothing matched and the store lacks clips the catalog lists (see `integrity`).
        """
        self._check_open()
        start, end = finite_or_none("start", start), finite_or_none("end", end)
        if not valid_text("query", query).strip():
            raise InputError("The search query is empty; give some words to search for.")
        if not 1 <= k <= MAX_K:
            raise InputError(f"top-k must be between 1 and {MAX_K}, got {k}.")
        if start is not None and end is not None and start >= end:
            raise InputError(f"The time range is empty: start {start} >= end {end}.")
        keys = [video] if isinstance(video, str) else list(video or [])
        video_ids = [self.video(key).id for key in keys] or None
        dense = self.embedder.query_dense([query])[0]
        sparse = self.embedder.sparse.query(query)
        hits = self.store.search(
            dense,
            sparse,
            k=k,
            video_ids=video_ids,
            start=start,
            end=end,
            kind=kind,
            mode=mode or self.search_mode,
        )
        if not hits:
            damage = self.damage()
            if damage is not None:  # an empty answer from a store that lost clips would be a lie
                raise LibraryBroken(damage.summary())
        return hits

    def mentions(self, words: list[str]) -> dict[str, bool]:
        """Whether the library's text (speech, screen text, captions) holds each word in any inflected
        form (`indexing.embed.word_forms`); answered by the store's term index, not by a scan."""
        from vidrag.indexing.embed import word_forms

        self._check_open()
        return {word: self.store.holds_any(word_forms(word)) for word in words}

    # reading a span ---------------------------------------------------------------------------

    def transcript(self, key: str, start: float = 0.0, end: float | None = None) -> list[Segment]:
        """Timed speech lines overlapping [start, end) of a video.

        Raises:
            InputError: a time that is not a finite number.
        """
        self._check_open()
        start, end = finite("start", start), finite_or_none("end", end)
        record = self.video(key)
        end = record.duration if end is None else end
        cached = self._cached_transcript(record.id)
        if cached is not None:
            return cached.lines_between(start, end)
        return [
            Segment(c.start, c.end, c.transcript)
            for c in self.store.clips(record.id)
            if c.transcript and c.end > start and c.start < end
        ]

    def _cached_transcript(self, video_id: str) -> Transcript | None:
        if self.cache_dir is None:
            return None
        files = cached_transcripts(self.cache_dir, video_id)
        return Transcript.from_dict(json.loads(files[0].read_text())) if files else None

    def span_clips(self, key: str, start: float, end: float) -> list[Clip]:
        self._check_open()
        start, end = finite("start", start), finite("end", end)
        record = self.video(key)
        return [c for c in self.store.clips(record.id) if c.end > start and c.start < end]

    def frames(self, key: str, start: float, end: float, fps: float = 2.0, max_side: int = 448) -> ClipFrames:
        """Frames of a span sampled at bin centres, read again from the file (random access).

        Raises:
            InputError: an empty or out-of-range span, or a number that is not finite.
        """
        self._check_open()
        fps = finite("fps", fps)
        if fps <= 0:
            raise InputError(f"fps must be above 0, got {fps}.")
        record = self.video(key)
        start, end = clamp_span(start, end, record.duration)
        count = max(1, min(64, round((end - start) * fps)))
        step = (end - start) / count
        times = [start + step * (i + 0.5) for i in range(count)]
        info = probe(record.path)
        frames = read_frames_at(record.path, info, times, max_side=max_side)
        clips = self.span_clips(key, start, end)
        return ClipFrames(
            video_id=record.id,
            start=start,
            end=end,
            frames=frames,
            times=times[: len(frames)],
            transcript=" ".join(c.transcript for c in clips if c.transcript),
            ocr="\n".join(dict.fromkeys(line for c in clips for line in c.ocr.split("\n") if line)),
        )

    def cut(self, key: str, start: float, end: float, out: str | Path) -> Path:
        """Write the span [start, end) of a video to an mp4 (H.264/AAC re-encode, frame-accurate).

        Raises:
            InputError: an empty span, a time that is not finite, or ffmpeg failed.
        """
        self._check_open()
        record = self.video(key)
        start, end = clamp_span(start, end, record.duration)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            f"{start:.3f}",
            "-i",
            record.path,
            "-t",
            f"{end - start:.3f}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            str(out),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise InputError(f"cutting {record.path} {start:.2f}-{end:.2f}s failed: {result.stderr.strip()[-300:]}")
        return out


def valid_text(name: str, value: str) -> str:
    """`value`, checked to be a string of valid Unicode (a lone surrogate cannot reach SQLite, a tokenizer
    or the store).

    Raises:
        InputError: not a string, or a lone surrogate in it.
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, got {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(
            f"{name} contains a lone surrogate (U+{ord(value[err.start]):04X}) at character {err.start}; "
            "send valid Unicode text."
        ) from err
    return value


def finite_or_none(name: str, value: float | None) -> float | None:
    """None, or `value` checked by `finite`."""
    return None if value is None else finite(name, value)


def finite(name: str, value: float) -> float:
    """`value` as a float, checked to be a finite number.

    Every time that reaches the store or a decoder goes through here: a NaN once made the Qdrant
    engine panic, and NaN slips through comparisons (`NaN >= end` is False).

    Raises:
        InputError: NaN, an infinity, a number too large for a float, or not a number at all.
    """
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(f"{name} must be a number of seconds, got {value!r}.") from err
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number of seconds, got {number}; give e.g. {name}=0.")
    return number


def clamp_span(start: float, end: float, duration: float) -> tuple[float, float]:
    """[start, end) checked to be finite and clamped to [0, duration] (the span a cut or a look covers).

    Raises:
        InputError: a time that is not finite, or a span that is empty after clamping.
    """
    start, end = max(0.0, finite("start", start)), finite("end", end)
    end = min(end, duration) if duration else end
    if end <= start:
        raise InputError(
            f"The span {start:.2f}-{end:.2f}s is empty or outside the video (0-{duration:.2f}s); "
            "give start < end within the video."
        )
    return start, end


def _media_file(record: VideoRecord) -> Path:
    path = Path(record.path)
    if not path.is_file():
        raise MediaMissing(f"The file of video {record.id} is missing: {path}; re-add it or delete the video.")
    return path


def _render_jpeg(path: str, seconds: float, out: Path, max_side: int) -> None:
    """Write the frame at `seconds` as a JPEG, atomically (concurrent requests may race)."""
    from PIL import Image

    frames = read_frames_at(path, probe(path), [seconds], max_side=max_side)
    if not frames:
        raise InputError(f"no frame could be read at {seconds:.1f}s of {path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{uuid.uuid4().hex}.tmp")
    Image.fromarray(frames[0]).save(tmp, format="JPEG", quality=82)
    os.replace(tmp, out)
