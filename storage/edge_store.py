"""The default embedded store: Qdrant Edge, the Qdrant engine running inside this process.

It keeps the clips in a shard folder under the data dir, with payload indexes on video id, kind
and times, and finds dense and sparse (IDF) candidates natively (`storage.fusion` scores them) — no server, and no
pure-Python scan as in qdrant-client's local mode. Like that mode, one process opens a folder at a
time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from vidrag.storage.errors import BackendUnavailable, StoreFailure, contain
from vidrag.storage.fusion import Candidate, untied
from vidrag.storage.index_policy import DEFAULT_POLICY, IndexPolicy, IndexStatus
from vidrag.storage.qdrant_store import (
    DENSE,
    PAYLOAD_INDEXES,
    SPARSE,
    ClipStore,
    SparseVector,
    StoredPoint,
    Where,
    _check_dim,
)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def _hold(lock_path: Path) -> IO[str]:
    """An exclusive lock on the store for this process's use of it (released when the file closes), so
    a second process is told plainly that the store is in use, even while the first is still creating it.

    Raises:
        BackendUnavailable: another process holds it (its pid is named).
    """
    handle = open(lock_path, "a+")
    if fcntl is None:  # no flock (Windows): the engine's own lock is the only guard
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        same = owner == str(os.getpid())
        who = (
            "by this process already (open it once and share it)"
            if same
            else f"by another vidrag process (pid {owner})"
        )
        raise BackendUnavailable(
            f"The embedded Qdrant store at {lock_path.with_suffix('')} is in use {who}; wait for it to finish "
            "(an ingest), stop it (e.g. `vidrag serve`) or use its API, "
            "or point VIDRAG_QDRANT_URL at a Qdrant server that several processes can share."
        ) from err
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _contained(method: Callable) -> Callable:
    """Turn a panic of the Rust engine (a BaseException, e.g. pyo3's PanicException) or its plain errors
    into a `StoreFailure` for this call: the process, and the requests after it, go on."""

    @functools.wraps(method)
    def call(self: EdgeClipStore, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException as error:
            raise contain(error, f"Qdrant Edge ({method.__name__.strip('_')})") from error

    return call


class EdgeClipStore(ClipStore):
    """Clips in a Qdrant Edge shard at `path`.

    Raises:
        BackendUnavailable: qdrant-edge-py is missing, or the folder is open in another process.
        InputError: the shard holds vectors of another dimension.
    """

    def __init__(self, path: str | Path, dim: int = 384, policy: IndexPolicy = DEFAULT_POLICY) -> None:
        super().__init__(dim, policy)
        try:
            import qdrant_edge as edge
        except ImportError as err:
            raise BackendUnavailable("Qdrant Edge is not installed; run `pip install qdrant-edge-py`.") from err
        self._edge = edge
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = _hold(self.path.with_name(self.path.name + ".lock"))
        try:
            self._open(dim)
        except BaseException:
            self._lock.close()
            raise

    def _open(self, dim: int) -> None:
        edge = self._edge
        marker = self.path / "vidrag.json"
        if marker.is_file():
            _check_dim(str(self.path), json.loads(marker.read_text()).get("dim"), dim)
        try:
            if marker.is_file():
                # the policy's index settings replace the stored ones (the vectors stay as they are);
                # they take effect at the next `build_index`
                self.shard = edge.EdgeShard.load(str(self.path), self._config())
            else:
                self.shard = self._create()
                marker.write_text(json.dumps({"dim": dim}))
        except Exception as err:  # qdrant-edge raises plain Exception (e.g. WAL locked)
            raise BackendUnavailable(
                f"The embedded Qdrant store at {self.path} cannot be opened ({err}); if another vidrag "
                "process (e.g. `vidrag serve`) has it open, stop it or use its API, or point "
                "VIDRAG_QDRANT_URL at a Qdrant server."
            ) from err

    def _config(self):
        edge = self._edge
        return edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=self.dim, distance=edge.Distance.Cosine)},
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            **self.policy.edge_parts(edge, self.dim),
        )

    def _create(self):
        edge = self._edge
        shard = edge.EdgeShard.create(str(self.path), self._config())
        kinds = {"keyword": edge.PayloadSchemaType.Keyword, "float": edge.PayloadSchemaType.Float}
        for key, kind in PAYLOAD_INDEXES.items():
            shard.update(edge.UpdateOperation.create_field_index(key, kinds[kind]))
        return shard

    @_contained
    def _write_points(self, points: list[StoredPoint]) -> None:
        edge = self._edge
        out = []
        for point in points:
            vector: dict[str, Any] = {DENSE: point.dense}
            if point.sparse is not None:
                vector[SPARSE] = edge.SparseVector(point.sparse.indices, point.sparse.values)
            out.append(edge.Point(point.id, vector, point.payload))
        self.shard.update(edge.UpdateOperation.upsert_points(out))
        self.shard.flush()

    @_contained
    def _delete_ids(self, ids: list[str]) -> None:
        point_ids: list[int | UUID | str] = list(ids)
        self.shard.update(self._edge.UpdateOperation.delete_points(point_ids))
        self.shard.flush()

    def _filter(self, where: Where):
        edge = self._edge
        must: list[Any] = []
        if where.kind:
            must.append(edge.FieldCondition("kind", match=edge.MatchValue(where.kind)))
        if where.video_ids:
            must.append(edge.FieldCondition("video_id", match=edge.MatchAny(list(where.video_ids))))
        if where.ends_after is not None:
            must.append(edge.FieldCondition("end", range=edge.RangeFloat(gt=where.ends_after)))
        if where.starts_before is not None:
            must.append(edge.FieldCondition("start", range=edge.RangeFloat(lt=where.starts_before)))
        return edge.Filter(must=must) if must else None

    def _scroll(self, where: Where) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            records, offset = self._scroll_page(where, offset)
            for record in records:
                yield str(record.id), record.payload or {}
            if offset is None:
                return

    @_contained
    def _scroll_page(self, where: Where, offset: Any) -> tuple[list[Any], Any]:
        return self.shard.scroll(
            self._edge.ScrollRequest(offset=offset, limit=512, filter=self._filter(where), with_payload=True)
        )

    @_contained
    def count(self) -> int:
        return self.shard.count(self._edge.CountRequest(exact=True))

    def build_index(self) -> None:
        """Run Qdrant Edge's optimisers now (it has no background ones): segments over the policy's
        threshold get their HNSW graph and quantised vectors, deleted points are vacuumed."""
        started = time.perf_counter()
        with self._write_lock:
            changed = self.shard.optimize()
            self.shard.flush()
        if changed:
            log.info("store optimised in %.1f s: %s", time.perf_counter() - started, self.index_status().summary())

    def index_status(self) -> IndexStatus:
        edge = self._edge
        info = self.shard.info()
        # indexed_vectors_count counts sparse vectors too (they always have an inverted index)
        with_sparse = self.shard.count(
            edge.CountRequest(exact=True, filter=edge.Filter(must=[edge.HasVectorCondition(SPARSE)]))
        )
        # (deleted points not yet vacuumed keep their sparse vectors in that count: a store that is under
        # the threshold as a whole cannot hold an indexed segment, so it is exact whatever the count says)
        under = info.points_count < self.policy.exact_below
        dense_indexed = 0 if under else max(0, info.indexed_vectors_count - with_sparse)
        # Edge optimises only when asked: a backlog past the threshold waits for the next ingest's build
        backlog = info.points_count - dense_indexed
        pending = "idle" if backlog < self.policy.exact_below else f"{backlog:,} points wait for an index build"
        return IndexStatus(info.points_count, dense_indexed, info.segments_count, pending, self.policy.describe())

    def close(self) -> None:
        try:
            self.shard.flush()
            self.shard.close()
        finally:
            self._lock.close()

    @_contained
    def _holds(self, sparse: SparseVector) -> bool:
        edge = self._edge
        query = edge.Query.Nearest(edge.SparseVector(sparse.indices, sparse.values), using=SPARSE)
        return bool(self.shard.query(edge.QueryRequest(limit=1, query=query, with_payload=False)))

    @_contained
    def _candidates(
        self, dense: list[float], sparse: SparseVector | None, where: Where, depth: int, mode: str
    ) -> list[Candidate]:
        edge = self._edge
        flt = self._filter(where)
        params = self.policy.edge_search_params(edge, exact=self.exact)
        dense_query = edge.Query.Nearest(list(dense), using=DENSE)
        stages = []
        if mode != "sparse":
            stages.append((dense_query, params))
        if sparse is not None and mode != "dense":
            stages.append((edge.Query.Nearest(edge.SparseVector(sparse.indices, sparse.values), using=SPARSE), None))
        # Each stage ranks ids alone (widened past ties at its cut). Reading a point's payload and 384
        # floats costs more than ranking it (1M clips, one video: ~15 us a point against ~1 us), so only
        # the sparse terms of every candidate are read here, with the dense stage's cosines; `rank` asks
        # `_read` for the payload and vector of the few whose score can still reach the top k.
        found: dict[Any, float | None] = {}
        for number, (query, stage_params) in enumerate(stages):

            def fetch(limit: int, query: Any = query, stage_params: Any = stage_params) -> list[tuple[float, Any]]:
                request = edge.QueryRequest(
                    limit=limit, query=query, filter=flt, params=stage_params, with_payload=False, with_vector=False
                )
                return [(point.score, (point.id, point.score)) for point in self.shard.query(request)]

            for point_id, score in untied(fetch, depth):
                if number == 0 and mode != "sparse":
                    found[point_id] = score
                else:
                    found.setdefault(point_id, None)
        if not found:
            return []
        unscored = [point_id for point_id, cosine in found.items() if cosine is None]
        if unscored and mode == "hybrid":  # words-only finds: the engine's cosine for each, exactly
            request = edge.QueryRequest(
                limit=len(unscored),
                query=dense_query,
                filter=edge.Filter(must=[edge.HasIdCondition(set(unscored))]),
                params=self.policy.edge_search_params(edge, exact=True),
                with_payload=False,
                with_vector=False,
            )
            found.update((point.id, point.score) for point in self.shard.query(request))
        terms: dict[Any, dict[int, float]] = {}
        if mode != "dense":
            for record in self.shard.retrieve(list(found), False, [SPARSE]):
                vector = (record.vector or {}).get(SPARSE)
                terms[record.id] = dict(zip(vector.indices, vector.values)) if vector is not None else {}
        return [
            Candidate(str(point_id), None, None, terms.get(point_id, {}), cosine) for point_id, cosine in found.items()
        ]

    @_contained
    def _read(self, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        by_id = {candidate.point_id: candidate for candidate in candidates}
        # (a point deleted since the query, by a re-ingest of its video, is not returned and stays unread)
        records = self.shard.retrieve(list(by_id), True, [DENSE])
        if not records:
            raise StoreFailure(
                f"Qdrant Edge returned none of the {len(by_id)} points its search had just found; search "
                "again, and run `vidrag doctor` if it recurs."
            )
        for record in records:
            candidate = by_id[str(record.id)]
            candidate.payload = record.payload or {}
            candidate.dense = (record.vector or {})[DENSE]
