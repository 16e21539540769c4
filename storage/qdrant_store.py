"""The clip store: one Qdrant collection (or Edge shard), one point per clip, dense + sparse vectors.

`ClipStore` holds what every backend shares — point ids, payloads, the search contract and its
validation — on top of a few primitives. Two backends implement them:

- `EdgeClipStore` (storage.edge_store): Qdrant Edge, the Qdrant engine embedded in this process
  (the default: a folder under the data dir, sub-millisecond hybrid search at 10k clips);
- `QdrantClientStore` (here): qdrant-client, for a Qdrant server or cluster by URL, or its
  pure-Python local mode.

Writes go through one lock: qdrant-client's local mode corrupts a collection under concurrent writes.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from vidrag.storage.errors import BackendUnavailable, InputError
from vidrag.storage.fusion import Candidate, rank, untied
from vidrag.storage.ids import clip_point_id
from vidrag.storage.index_policy import DEFAULT_POLICY, IndexPolicy, IndexStatus
from vidrag.storage.types import Clip, Hit

DENSE = "dense"
SPARSE = "sparse"
MODES = ("hybrid", "dense", "sparse")
# The fewest candidates each engine stage returns for a search (k=5 reads 40 nearest and 40 by words).
SEARCH_DEPTH = 40
PAYLOAD_INDEXES = {"video_id": "keyword", "kind": "keyword", "start": "float", "end": "float"}


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


@dataclass
class Where:
    """A backend-neutral filter: all given conditions must hold."""

    video_ids: list[str] | None = None
    kind: str | None = None
    ends_after: float | None = None
    starts_before: float | None = None


@dataclass
class StoredPoint:
    id: str
    dense: list[float]
    sparse: SparseVector | None
    payload: dict[str, Any]


class ClipStore(ABC):
    """Clips with dense and sparse vectors, searched dense, sparse or both (`storage.fusion`).

    `policy` decides when the dense vectors get an HNSW index (storage.index_policy); `exact`
    forces exact search on every query (what the benchmark compares the index against).
    """

    def __init__(self, dim: int, policy: IndexPolicy = DEFAULT_POLICY) -> None:
        self.dim = dim
        self.policy = policy
        self.exact = False
        self._write_lock = threading.Lock()
        self._bulk_depth = 0

    # primitives -------------------------------------------------------------------------------

    @abstractmethod
    def _write_points(self, points: list[StoredPoint]) -> None: ...

    @abstractmethod
    def _delete_ids(self, ids: list[str]) -> None: ...

    @abstractmethod
    def _scroll(self, where: Where) -> Iterator[tuple[str, dict[str, Any]]]: ...

    @abstractmethod
    def _candidates(
        self, dense: list[float], sparse: SparseVector | None, where: Where, depth: int, mode: str
    ) -> list[Candidate]:
        """Up to `depth` points nearest the dense query (unless mode is "sparse") and up to `depth`
        holding the query's words (unless "dense"), each with its sparse terms and either its payload and
        dense vector or the engine's cosine (then `_read` fills them in for the ones `rank` keeps)."""

    def _read(self, candidates: list[Candidate]) -> None:
        """Fill in the payload and dense vector of candidates `_candidates` left unread."""
        raise NotImplementedError(f"{type(self).__name__} returns its candidates read")

    @abstractmethod
    def _holds(self, sparse: SparseVector) -> bool:
        """Whether any point's sparse vector has one of `sparse`'s terms."""

    def holds_any(self, indices: Iterable[int]) -> bool:
        """Whether any stored point (clip or video summary) holds one of these term indices."""
        wanted = sorted(set(indices))
        return bool(wanted) and self._holds(SparseVector(wanted, [1.0] * len(wanted)))

    @abstractmethod
    def count(self) -> int:
        """Points stored (clips and video summaries)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the storage (flush to disk where that applies)."""

    @abstractmethod
    def index_status(self) -> IndexStatus:
        """Points, indexed vectors, segments and the optimiser's state."""

    @abstractmethod
    def build_index(self) -> None:
        """Bring the index up to date with what was written (HNSW for segments over the threshold)."""

    def _pause_indexing(self) -> None:  # noqa: B027 - optional hook
        """Stop building indexes while a bulk write runs (where the backend builds them on its own)."""

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Write many clips, then index once: HNSW graphs are built when the outermost block ends
        (also when it ends with an error: what was written is indexed), not point by point."""
        with self._write_lock:
            self._bulk_depth += 1
            if self._bulk_depth == 1:
                self._pause_indexing()
        try:
            yield
        finally:
            with self._write_lock:
                self._bulk_depth -= 1
                outermost = self._bulk_depth == 0
            if outermost:
                self.build_index()

    # shared behaviour -------------------------------------------------------------------------

    def upsert(self, items: Iterable[ClipVectors], batch_size: int = 256) -> list[str]:
        """Write clips (overwriting same-id points); returns the point ids written."""
        written: list[str] = []
        batch: list[StoredPoint] = []
        for item in items:
            if len(item.dense) != self.dim:
                raise InputError(f"a {len(item.dense)}-d vector was given to a {self.dim}-d store.")
            point_id = clip_point_id(item.clip.video_id, item.clip.start, item.clip.end, item.clip.kind)
            sparse = item.sparse if item.sparse.indices else None
            batch.append(StoredPoint(point_id, list(item.dense), sparse, item.clip.payload()))
            written.append(point_id)
            if len(batch) >= batch_size:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        return written

    def _write(self, points: list[StoredPoint]) -> None:
        with self._write_lock:
            self._write_points(points)

    def delete_video(self, video_id: str, keep: Iterable[str] = ()) -> int:
        """Delete a video's points, except the ids in `keep`; returns how many were deleted."""
        keep_ids = set(keep)
        stale = [pid for pid, _ in self._scroll(Where(video_ids=[video_id])) if pid not in keep_ids]
        if stale:
            with self._write_lock:
                self._delete_ids(stale)
        return len(stale)

    def clips(self, video_id: str, kind: str = "clip") -> list[Clip]:
        """All clips of a video in time order."""
        clips = [Clip.from_payload(p) for _, p in self._scroll(Where(video_ids=[video_id], kind=kind))]
        return sorted(clips, key=lambda clip: clip.start)

    def point_ids(self, video_id: str) -> set[str]:
        return {pid for pid, _ in self._scroll(Where(video_ids=[video_id]))}

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
            mode: "hybrid" (meaning and words, one score: `storage.fusion`), "dense" or "sparse".

        Returns:
            Hits best first, `score` a relevance in [0, 1] (`storage.fusion`); equal scores in the order of
            video id, start and end, so a library gives the same order in every process.

        Raises:
            InputError: an unknown mode.
        """
        if mode not in MODES:
            raise InputError(f"Unknown search mode {mode!r}; use 'hybrid', 'dense' or 'sparse'.")
        if sparse is not None and not sparse.indices:
            sparse = None
        if mode == "sparse" and sparse is None:
            return []
        if mode == "hybrid" and sparse is None:
            mode = "dense"
        where = Where(video_ids=video_ids or None, kind=kind, ends_after=start, starts_before=end)
        # candidates beyond k: the engine cuts its own order (approximate, or tied at the edge), the
        # fused order is decided here over a wider pool
        depth = max(4 * k, SEARCH_DEPTH)
        candidates = self._candidates(dense, sparse, where, depth, mode)
        terms = dict(zip(sparse.indices, sparse.values)) if sparse is not None else None
        ranked = rank(candidates, dense, terms, mode=mode, k=k, read=self._read)
        return [_hit(payload, score) for payload, score in ranked]


class QdrantClientStore(ClipStore):
    """The store on qdrant-client: a Qdrant server/cluster (URL) or its pure-Python local mode.

    A collection it creates on a cluster takes `shards`, `replication` (copies of each shard) and
    `write_consistency` (replicas that confirm a write); None leaves the server's default. Local
    mode accepts and ignores them, so the same calls run in tests and against a cluster.
    """

    def __init__(
        self,
        client: Any,
        collection: str = "vidrag_clips",
        dim: int = 384,
        *,
        shards: int | None = None,
        replication: int | None = None,
        write_consistency: int | None = None,
        policy: IndexPolicy = DEFAULT_POLICY,
    ) -> None:
        super().__init__(dim, policy)
        self.client = client
        self.collection = collection
        self.layout = {
            "shard_number": shards,
            "replication_factor": replication,
            "write_consistency_factor": write_consistency,
        }
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        from qdrant_client import models

        try:
            exists = self.client.collection_exists(self.collection)
        except Exception as err:  # connection errors come in several types
            raise BackendUnavailable(
                f"Qdrant is unreachable ({err}); check VIDRAG_QDRANT_URL or unset it to use the embedded store."
            ) from err
        if exists:
            vectors = self.client.get_collection(self.collection).config.params.vectors
            _check_dim(self.collection, vectors[DENSE].size if isinstance(vectors, dict) else None, self.dim)
            return
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=self.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            **self.layout,
            **self.policy.client_parts(models, self.dim),
        )
        if self._local:
            return  # local mode filters in Python; payload indexes only matter on a server
        for key, schema in PAYLOAD_INDEXES.items():
            self.client.create_payload_index(self.collection, key, field_schema=schema)

    @property
    def _local(self) -> bool:
        """qdrant-client's local mode: an exact scan in Python, no index or optimiser."""
        return type(getattr(self.client, "_client", None)).__name__ == "QdrantLocal"

    def _indexing(self, threshold_kb: int) -> None:
        from qdrant_client import models

        if not self._local:
            self.client.update_collection(
                self.collection, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=threshold_kb)
            )

    def _pause_indexing(self) -> None:
        self._indexing(0)  # 0 = no HNSW builds; points land in plain segments meanwhile

    def build_index(self) -> None:
        """Hand indexing back to the server's optimiser, which builds in the background (see
        `index_status`); a no-op in local mode."""
        self._indexing(self.policy.threshold_kb(self.dim))

    def index_status(self) -> IndexStatus:
        from qdrant_client import models

        info = self.client.get_collection(self.collection)
        optimizer = info.optimizer_status
        policy = self.policy.describe()
        state = getattr(optimizer, "error", None) or str(getattr(optimizer, "value", optimizer))
        points = info.points_count or 0
        indexed = info.indexed_vectors_count or 0
        if self._local:
            points, indexed, state = self.count(), 0, "none (local mode: exact scan)"
        else:
            # indexed_vectors_count counts sparse vectors too; the server's estimate of them is enough here
            with_sparse = self.client.count(
                self.collection,
                count_filter=models.Filter(must=[models.HasVectorCondition(has_vector=SPARSE)]),
                exact=False,
            ).count
            indexed = max(0, indexed - with_sparse)
            threshold = info.config.optimizer_config.indexing_threshold
            state = f"{state}, collection {info.status}" + (", indexing paused" if threshold == 0 else "")
            policy.update(_collection_index(info.config))
        return IndexStatus(points, indexed, info.segments_count, state, policy)

    def _write_points(self, points: list[StoredPoint]) -> None:
        from qdrant_client import models

        structs = []
        for point in points:
            vector: dict[str, Any] = {DENSE: point.dense}
            if point.sparse is not None:
                vector[SPARSE] = models.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
            structs.append(models.PointStruct(id=point.id, vector=vector, payload=point.payload))
        self.client.upsert(self.collection, points=structs, wait=True)

    def _delete_ids(self, ids: list[str]) -> None:
        from qdrant_client import models

        self.client.delete(self.collection, points_selector=models.PointIdsList(points=ids), wait=True)

    def _scroll(self, where: Where) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection, scroll_filter=_client_filter(where), limit=512, offset=offset, with_payload=True
            )
            for point in points:
                yield str(point.id), point.payload or {}
            if offset is None:
                return

    def count(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def close(self) -> None:
        self.client.close()

    def _holds(self, sparse: SparseVector) -> bool:
        from qdrant_client import models

        query = models.SparseVector(indices=sparse.indices, values=sparse.values)
        return bool(self.client.query_points(self.collection, query=query, using=SPARSE, limit=1).points)

    def _candidates(
        self, dense: list[float], sparse: SparseVector | None, where: Where, depth: int, mode: str
    ) -> list[Candidate]:
        from qdrant_client import models

        flt = _client_filter(where)
        stages: list[tuple[Any, str, Any]] = []
        if mode != "sparse":
            stages.append((dense, DENSE, self.policy.client_search_params(models, exact=self.exact)))
        if sparse is not None and mode != "dense":
            stages.append((models.SparseVector(indices=sparse.indices, values=sparse.values), SPARSE, None))
        found = []
        for query, using, params in stages:

            def fetch(limit: int, query: Any = query, using: str = using, params: Any = params):
                result = self.client.query_points(
                    self.collection,
                    query=query,
                    using=using,
                    query_filter=flt,
                    search_params=params,
                    limit=limit,
                    with_payload=True,
                    with_vectors=True,
                )
                return [(point.score, _client_candidate(point)) for point in result.points]

            found += untied(fetch, depth)
        return found


def _client_candidate(point: Any) -> Candidate:
    vectors = point.vector if isinstance(point.vector, dict) else {}
    sparse = vectors.get(SPARSE)
    terms = dict(zip(sparse.indices, sparse.values)) if sparse is not None else {}
    return Candidate(str(point.id), point.payload or {}, vectors[DENSE], terms)


def _check_dim(name: str, stored: int | None, wanted: int) -> None:
    if stored != wanted:
        raise InputError(
            f"Collection {name!r} holds {stored}-d vectors but the embedder makes {wanted}-d ones; "
            "use the embedding model it was built with, or a new VIDRAG_HOME / collection name."
        )


def _client_filter(where: Where):
    from qdrant_client import models

    must: list[Any] = []
    if where.kind:
        must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=where.kind)))
    if where.video_ids:
        must.append(models.FieldCondition(key="video_id", match=models.MatchAny(any=where.video_ids)))
    if where.ends_after is not None:
        must.append(models.FieldCondition(key="end", range=models.Range(gt=where.ends_after)))
    if where.starts_before is not None:
        must.append(models.FieldCondition(key="start", range=models.Range(lt=where.starts_before)))
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


def _collection_index(config: Any) -> dict[str, Any]:
    """The index settings a server collection has: it keeps those it was created with, whatever the
    policy (or its defaults) says now, so the status reports these."""
    scalar = getattr(config.quantization_config, "scalar", None)
    kind = getattr(getattr(scalar, "type", None), "value", None)
    quantization = None if config.quantization_config is None else (kind or type(config.quantization_config).__name__)
    return {"m": config.hnsw_config.m, "ef_construct": config.hnsw_config.ef_construct, "quantization": quantization}
