"""A collection created on a Qdrant server takes its shards, replication and write consistency from
the caller, and its index parameters from the index policy. No Qdrant server runs here, so a
stand-in HTTP server on 127.0.0.1 answers the few calls a store makes, and the test reads the exact
request bodies qdrant-client sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from qdrant_client import QdrantClient

from vidrag.api.settings import Settings
from vidrag.api.wiring import open_store


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, dict]] = []

    def _answer(self, result: object, wrap: bool = True) -> None:
        body = json.dumps({"result": result, "status": "ok", "time": 0.0} if wrap else result).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    info: dict | None = None  # what GET /collections/NAME answers, when a test sets it

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, {}))
        if self.path.endswith("/exists"):
            self._answer({"exists": False})
        elif self.info is not None and self.path.split("?")[0].startswith("/collections/"):
            self._answer(self.info)
        else:
            self._answer({"title": "qdrant - vector search engine", "version": "1.15.4"}, wrap=False)

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.requests.append(("PUT", self.path, body))
        self._answer({"operation_id": 1, "status": "completed"} if "/index" in self.path else True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.requests.append(("POST", self.path, body))
        self._answer({"count": 1000} if self.path.split("?")[0].endswith("/points/count") else True)

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.requests.append(("PATCH", self.path, json.loads(self.rfile.read(length) or b"{}")))
        self._answer(True)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    _Recorder.requests = []
    _Recorder.info = None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _created(name: str) -> list[dict]:
    """The bodies of the create-collection requests for `name`."""
    return [
        body
        for method, path, body in _Recorder.requests
        if method == "PUT" and path.split("?")[0] == f"/collections/{name}"
    ]


def test_a_new_server_collection_takes_the_cluster_layout_from_settings(server, tmp_path):
    settings = Settings(
        home=tmp_path,
        qdrant_url=server,
        collection="clips",
        qdrant_shards=6,
        qdrant_replication=2,
        qdrant_write_consistency=2,
    )
    open_store(settings, dim=384).close()
    (create,) = _created("clips")
    assert (create["shard_number"], create["replication_factor"], create["write_consistency_factor"]) == (6, 2, 2)
    assert create["vectors"] == {"dense": {"size": 384, "distance": "Cosine"}}
    assert create["sparse_vectors"] == {"sparse": {"modifier": "idf"}}
    indexed = {body["field_name"]: body["field_schema"] for _, path, body in _Recorder.requests if "/index" in path}
    assert indexed == {"video_id": "keyword", "kind": "keyword", "start": "float", "end": "float"}


def test_unset_layout_leaves_the_server_default(server, tmp_path):
    open_store(Settings(home=tmp_path, qdrant_url=server, collection="clips"), dim=384).close()
    (create,) = _created("clips")
    given = {key for key, value in create.items() if value is not None}
    assert not {"shard_number", "replication_factor", "write_consistency_factor"} & given


def test_local_mode_accepts_the_same_layout(tmp_path):
    from vidrag.storage.qdrant_store import QdrantClientStore

    store = QdrantClientStore(
        QdrantClient(path=str(tmp_path / "local")), "clips", dim=4, shards=6, replication=2, write_consistency=2
    )
    assert store.count() == 0
    store.close()


def test_a_new_server_collection_takes_the_index_policy_and_a_bulk_write_pauses_indexing(server, tmp_path):
    from vidrag.storage.index_policy import DEFAULT_POLICY

    store = open_store(Settings(home=tmp_path, qdrant_url=server, collection="clips"), dim=384)
    (create,) = _created("clips")
    threshold_kb = DEFAULT_POLICY.exact_below * 384 * 4 // 1024
    assert {k: v for k, v in create["hnsw_config"].items() if v is not None} == {
        "m": DEFAULT_POLICY.m,
        "ef_construct": DEFAULT_POLICY.ef_construct,
        "full_scan_threshold": threshold_kb,
    }
    assert {k: v for k, v in create["optimizers_config"].items() if v is not None} == {
        "indexing_threshold": threshold_kb
    }
    assert create["quantization_config"]["scalar"] == {"type": "int8", "quantile": 0.99, "always_ram": True}
    with store.bulk():
        pass  # the points a bulk ingest writes go here
    store.close()
    patches = [
        body for method, path, body in _Recorder.requests if method == "PATCH" and path.startswith("/collections/clips")
    ]
    # indexing off while the points arrive, then back to the policy's threshold: one build per segment
    assert [p["optimizers_config"]["indexing_threshold"] for p in patches] == [0, threshold_kb]


def test_index_settings_reach_a_new_server_collection(server, tmp_path):
    settings = Settings(
        home=tmp_path, qdrant_url=server, collection="clips", index_exact_below=1000, index_quantization="none"
    )
    open_store(settings, dim=384).close()
    (create,) = _created("clips")
    assert create["optimizers_config"]["indexing_threshold"] == create["hnsw_config"]["full_scan_threshold"] == 1500
    assert create.get("quantization_config") is None


def test_the_servers_index_state_is_reported(server, tmp_path):
    """Points, dense vectors in HNSW (the server's count includes the sparse ones), segments, the
    optimiser's state and the collection's colour, and a paused indexer, as `/ready` shows them."""
    from qdrant_client import models as m

    store = open_store(Settings(home=tmp_path, qdrant_url=server, collection="clips"), dim=384)
    config = m.CollectionConfig(
        params=m.CollectionParams(vectors={"dense": m.VectorParams(size=384, distance=m.Distance.COSINE)}),
        hnsw_config=m.HnswConfig(m=16, ef_construct=128, full_scan_threshold=30000),
        optimizer_config=m.OptimizersConfig(
            deleted_threshold=0.2,
            vacuum_min_vector_number=1000,
            default_segment_number=0,
            flush_interval_sec=5,
            indexing_threshold=0,
        ),
        wal_config=m.WalConfig(wal_capacity_mb=32, wal_segments_ahead=0),
    )
    info = m.CollectionInfo(
        status=m.CollectionStatus.GREY,
        optimizer_status=m.OptimizersStatusOneOf.OK,
        segments_count=3,
        points_count=1000,
        indexed_vectors_count=1600,  # 600 dense in HNSW + 1,000 sparse
        config=config,
        payload_schema={},
    )
    _Recorder.info = info.model_dump(mode="json", exclude_none=True)
    status = store.index_status()
    store.close()
    assert (status.points, status.indexed_vectors, status.segments, status.search) == (1000, 600, 3, "partial")
    assert status.optimizer == "ok, collection grey, indexing paused"
    (count,) = [body for method, path, body in _Recorder.requests if method == "POST" and "/points/count" in path]
    assert count["filter"]["must"] == [{"has_vector": "sparse"}]
    # the collection was made without quantisation (before int8 became the default): the status says
    # what the collection has, not what the policy would create today
    assert store.policy.quantization == "int8" and status.policy["quantization"] is None
    assert "quantised" not in status.summary()
    config.quantization_config = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8))
    config.hnsw_config = m.HnswConfig(m=32, ef_construct=256, full_scan_threshold=30000)
    _Recorder.info = info.model_dump(mode="json", exclude_none=True)
    settings = Settings(home=tmp_path, qdrant_url=server, collection="clips", index_quantization="none")
    store = open_store(settings, dim=384)
    status = store.index_status()
    store.close()
    assert (status.policy["quantization"], status.policy["m"], status.policy["ef_construct"]) == ("int8", 32, 256)
    assert "HNSW (m=32), int8 quantised" in status.summary()
