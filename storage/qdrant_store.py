"""The clip store: one Qdrant collection, one point per clip, dense and sparse vectors.

The client is injected, so the same code talks to Qdrant's embedded local mode (the default) or to
a server or cluster by URL. Local mode corrupts a collection under concurrent writes, so every write
goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from qdrant_client import QdrantClient, models

from storage.errors import BackendUnavailable, InputError
from storage.ids import clip_point_id
from storage.types import Clip, Hit

DENSE = "dense"
SPARSE = "sparse"


@dataclass
class SparseVector:
    """Indices and weights of a sparse (term) vector."""

    indices: list[int]
    values: list[float]


@dataclass
class ClipVectors:
    """A clip with its vectors, ready to store."""

    clip: Clip
    dense: list[float]
    sparse: SparseVector


class ClipStore:
    """Clips in a Qdrant collection, searched dense, sparse or both fused (RRF)."""

    def __init__(self, client: QdrantClient, collection: str = "vidrag_clips", dim: int = 384) -> None:
        self.client = client
        self.collection = collection
        self.dim = dim
        self._write_lock = threading.Lock()
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        try:
            exists = self.client.collection_exists(self.collection)
        except Exception as err:  # connection errors come in several types
            raise BackendUnavailable(
                f"Qdrant is unreachable ({err}); check VIDRAG_QDRANT_URL or unset it to use "
                "the embedded store."
            ) from err
        if exists:
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) else None
            if size != self.dim:
                raise InputError(
                    f"Collection {self.collection!r} holds {size}-d vectors but the embedder makes "
                    f"{self.dim}-d ones; use the embedding model it was built with, or a new "
                    "VIDRAG_HOME / collection name."
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=self.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if _is_local(self.client):
            return  # local mode filters in Python; payload indexes only matter on a server
        for key, schema in (
            ("video_id", models.PayloadSchemaType.KEYWORD),
            ("kind", models.PayloadSchemaType.KEYWORD),
            ("start", models.PayloadSchemaType.FLOAT),
            ("end", models.PayloadSchemaType.FLOAT),
        ):
            self.client.create_payload_index(self.collection, key, field_schema=schema)

    # writes -----------------------------------------------------------------------------------

    def upsert(self, items: Iterable[ClipVectors], batch_size: int = 256) -> list[str]:
        """Write clips (overwriting same-id points); returns the point ids written."""
        written: list[str] = []
        batch: list[models.PointStruct] = []
        for item in items:
            point_id = clip_point_id(item.clip.video_id, item.clip.start, item.clip.end, item.clip.kind)
            vector: dict[str, Any] = {DENSE: list(item.dense)}
            if item.sparse.indices:
                vector[SPARSE] = models.SparseVector(
                    indices=item.sparse.indices, values=item.sparse.values
                )
            batch.append(models.PointStruct(id=point_id, vector=vector, payload=item.clip.payload()))
            written.append(point_id)
            if len(batch) >= batch_size:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        return written

    def _write(self, points: list[models.PointStruct]) -> None:
        with self._write_lock:
            self.client.upsert(self.collection, points=points, wait=True)

    def delete_video(self, video_id: str, keep: Iterable[str] = ()) -> int:
        """Delete a video's points, except the ids in `keep`; returns how many were deleted."""
        keep_ids = set(keep)
        stale = [pid for pid, _ in self._scroll(_video_filter(video_id)) if pid not in keep_ids]
        if stale:
            with self._write_lock:
                self.client.delete(
                    self.collection, points_selector=models.PointIdsList(points=stale), wait=True
                )
        return len(stale)

    # reads ------------------------------------------------------------------------------------

    def _scroll(self, flt: models.Filter) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection, scroll_filter=flt, limit=512, offset=offset, with_payload=True
            )
            for point in points:
                yield str(point.id), point.payload or {}
            if offset is None:
                return

    def clips(self, video_id: str, kind: str = "clip") -> list[Clip]:
        """All clips of a video in time order."""
        flt = _video_filter(video_id, kind=kind)
        clips = [Clip.from_payload(payload) for _, payload in self._scroll(flt)]
        return sorted(clips, key=lambda clip: clip.start)

    def point_ids(self, video_id: str) -> set[str]:
        return {pid for pid, _ in self._scroll(_video_filter(video_id))}

    def count(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def search(
        self,
        dense: list[float],
        sparse: SparseVector | None,
        *,
        k: int = 10,
        video_ids: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        kind: str = "clip",
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Top-k clips for a query, optionally within videos and a time range.

        Args:
            dense: the query's dense embedding.
            sparse: the query's sparse term vector (needed for "hybrid" and "sparse").
            k: how many hits to return.
            video_ids: restrict to these videos.
            start: keep clips that end after this time (seconds).
            end: keep clips that start before this time (seconds).
            kind: "clip" for clips, "video" for per-video summaries.
            mode: "hybrid" (dense + sparse fused with RRF), "dense" or "sparse".

        Raises:
            InputError: an unknown mode.
        """
        flt = _query_filter(video_ids, start, end, kind)
        use_sparse = sparse is not None and bool(sparse.indices)
        if mode == "dense" or (mode == "hybrid" and not use_sparse):
            result = self.client.query_points(
                self.collection, query=dense, using=DENSE, query_filter=flt, limit=k, with_payload=True
            )
        elif mode == "sparse":
            if not use_sparse:
                return []
            result = self.client.query_points(
                self.collection,
                query=models.SparseVector(indices=sparse.indices, values=sparse.values),
                using=SPARSE,
                query_filter=flt,
                limit=k,
                with_payload=True,
            )
        elif mode == "hybrid":
            depth = max(k * 4, 20)
            result = self.client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(query=dense, using=DENSE, filter=flt, limit=depth),
                    models.Prefetch(
                        query=models.SparseVector(indices=sparse.indices, values=sparse.values),
                        using=SPARSE,
                        filter=flt,
                        limit=depth,
                    ),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                query_filter=flt,
                limit=k,
                with_payload=True,
            )
        else:
            raise InputError(f"Unknown search mode {mode!r}; use 'hybrid', 'dense' or 'sparse'.")
        return [_hit(point.payload or {}, point.score) for point in result.points]


def _is_local(client: QdrantClient) -> bool:
    return type(getattr(client, "_client", None)).__name__ == "QdrantLocal"


def _video_filter(video_id: str, kind: str | None = None) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="video_id", match=models.MatchValue(value=video_id))
    ]
    if kind:
        must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=kind)))
    return models.Filter(must=must)


def _query_filter(
    video_ids: list[str] | None, start: float | None, end: float | None, kind: str
) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="kind", match=models.MatchValue(value=kind))
    ]
    if video_ids:
        must.append(models.FieldCondition(key="video_id", match=models.MatchAny(any=video_ids)))
    if start is not None:
        must.append(models.FieldCondition(key="end", range=models.Range(gt=start)))
    if end is not None:
        must.append(models.FieldCondition(key="start", range=models.Range(lt=end)))
    return models.Filter(must=must)


def _hit(payload: dict[str, Any], score: float) -> Hit:
    return Hit(
        video_id=payload.get("video_id", ""),
        video=payload.get("video", ""),
        start=float(payload.get("start", 0.0)),
        end=float(payload.get("end", 0.0)),
        score=float(score),
        text=payload.get("text", ""),
        transcript=payload.get("transcript", ""),
        ocr=payload.get("ocr", ""),
        caption=payload.get("caption", ""),
        kind=payload.get("kind", "clip"),
    )
