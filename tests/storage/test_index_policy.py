"""The index policy (storage.index_policy) on the embedded Qdrant Edge store: a library under the
threshold is searched exactly, whatever the build does; past it, one bulk write ends in an HNSW graph
built with the policy's parameters, and the store reports which it is."""

import json

import numpy as np
import pytest
from qdrant_client import QdrantClient

from vidrag.indexing.embed import SparseEncoder
from vidrag.storage.edge_store import EdgeClipStore
from vidrag.storage.index_policy import DEFAULT_POLICY, IndexPolicy
from vidrag.storage.qdrant_store import ClipVectors, QdrantClientStore
from vidrag.storage.types import Clip

DIM = 16
WORDS = "kettle router planet budget engine river oven orbit chart bread storm lecture".split()


def _items(count: int, seed: int = 0) -> list[ClipVectors]:
    rng = np.random.default_rng(seed)
    sparse = SparseEncoder()
    items = []
    for i in range(count):
        text = " ".join(rng.choice(WORDS, 5))
        clip = Clip(f"video{i // 50}", f"/v/video{i // 50}.mp4", i % 50, (i % 50) * 10.0, (i % 50) * 10.0 + 10, text)
        items.append(ClipVectors(clip, rng.standard_normal(DIM).tolist(), sparse.document(text)))
    return items


def _rankings(store, queries: int = 10, **filters) -> list[list[tuple]]:
    rng = np.random.default_rng(99)
    sparse = SparseEncoder()
    out = []
    for _ in range(queries):
        question = " ".join(rng.choice(WORDS, 3))
        for mode in ("hybrid", "dense"):
            hits = store.search(rng.standard_normal(DIM).tolist(), sparse.query(question), k=10, mode=mode, **filters)
            out.append(_untied([(h.video_id, h.start, round(h.score, 6)) for h in hits]))
    return out


def _untied(ranking: list[tuple]) -> list[tuple]:
    """Equal scores in a stable order, and the hits tied with the last one left out: which of them
    fill the last places is the fusion's tie-break, not the index's business."""
    ranking = sorted(ranking, key=lambda hit: (-hit[2], hit[0], hit[1]))
    return [hit for hit in ranking if hit[2] != ranking[-1][2]] if ranking else ranking


def _exact(store, **filters) -> list[list[tuple]]:
    store.exact = True
    try:
        return _rankings(store, **filters)
    finally:
        store.exact = False


def test_a_library_under_the_threshold_stays_exact_through_a_build(tmp_path):
    """What users of small libraries see cannot change: same hits, same scores, same order."""
    store = EdgeClipStore(tmp_path / "edge", dim=DIM)  # the default policy
    try:
        with store.bulk():
            store.upsert(_items(2000))
        status = store.index_status()
        assert (status.search, status.indexed_vectors, status.points) == ("exact", 0, 2000)
        assert status.policy["exact_below"] == DEFAULT_POLICY.exact_below > 2000
        assert _rankings(store) == _exact(store)
        assert "exact search (HNSW and int8 quantised above 20,000 clips" in status.summary()
    finally:
        store.close()
    # the default policy quantises (int8) only segments it indexes: none here
    assert DEFAULT_POLICY.quantization == "int8"
    assert not list((tmp_path / "edge" / "segments").rglob("quantized.data"))


def test_past_the_threshold_one_bulk_write_ends_in_an_hnsw_index_with_the_policys_parameters(tmp_path):
    policy = IndexPolicy(exact_below=300, m=8, ef_construct=64, hnsw_ef=128)
    store = EdgeClipStore(tmp_path / "edge", dim=DIM, policy=policy)
    try:
        with store.bulk():
            store.upsert(_items(1200))
            during = store.index_status()
        after = store.index_status()
        # nothing is indexed point by point; the graph comes when the bulk write ends
        assert (during.search, during.indexed_vectors) == ("exact", 0)
        assert "wait for an index build" in during.optimizer
        assert (after.search, after.indexed_vectors, after.points) == ("approximate", 1200, 1200)
        assert after.optimizer == "idle" and "m=8" in after.summary()
        # a video's clips are fewer than the threshold: its filtered search stays exact
        assert _rankings(store, video_ids=["video3"]) == _exact(store, video_ids=["video3"])
        # the approximate index finds most of what exact search finds (0.9 here; the benchmark measures it)
        approximate, exact = _rankings(store), _exact(store)
        overlap = np.mean([len({h[:2] for h in a} & {h[:2] for h in e}) / 10 for a, e in zip(approximate, exact)])
        assert overlap >= 0.8
    finally:
        store.close()
    config = json.loads((tmp_path / "edge" / "edge_config.json").read_text())
    threshold_kb = 300 * DIM * 4 // 1024
    assert config["hnsw_config"]["m"] == 8 and config["hnsw_config"]["ef_construct"] == 64
    assert config["hnsw_config"]["full_scan_threshold"] == threshold_kb == policy.threshold_kb(DIM)
    assert config["optimizers"]["indexing_threshold"] == threshold_kb


def test_reopening_a_store_applies_the_current_policy(tmp_path):
    EdgeClipStore(tmp_path / "edge", dim=DIM).close()
    store = EdgeClipStore(tmp_path / "edge", dim=DIM, policy=IndexPolicy(exact_below=1000, m=32))
    assert store.index_status().policy["m"] == 32
    store.close()
    config = json.loads((tmp_path / "edge" / "edge_config.json").read_text())
    assert config["hnsw_config"]["m"] == 32 and config["optimizers"]["indexing_threshold"] == 1000 * DIM * 4 // 1024


def test_int8_quantisation_is_built_with_the_index(tmp_path):
    store = EdgeClipStore(tmp_path / "edge", dim=DIM, policy=IndexPolicy(exact_below=300, quantization="int8"))
    try:
        with store.bulk():
            store.upsert(_items(800))
        assert "int8 quantised" in store.index_status().summary()
        assert store.search(_items(1, seed=5)[0].dense, None, k=5, mode="dense")
    finally:
        store.close()
    assert list((tmp_path / "edge" / "segments").rglob("quantized.data"))


def test_local_mode_reports_its_exact_scan(tmp_path):
    store = QdrantClientStore(QdrantClient(path=str(tmp_path / "local")), "t", dim=DIM)
    try:
        with store.bulk():
            store.upsert(_items(20))
        status = store.index_status()
        assert (status.points, status.search) == (20, "exact") and "local mode" in status.optimizer
    finally:
        store.close()


def test_a_policy_with_impossible_values_is_refused():
    with pytest.raises(ValueError, match="quantization"):
        IndexPolicy(quantization="int4")
    with pytest.raises(ValueError, match="positive"):
        IndexPolicy(exact_below=0)


def test_the_sample_library_is_searched_exactly_as_before(sample_library):
    """The QA figures come from libraries like this one: far under the threshold, every search scans
    exactly, so the index policy cannot move them. (Slow tier: the session's ingested samples.)"""
    store = sample_library.store
    status = sample_library.index_status()
    assert status.search == "exact" and 0 < status.points < DEFAULT_POLICY.exact_below
    store.build_index()  # what every ingest now ends with
    assert sample_library.index_status().indexed_vectors == 0
    questions = ["how do routers forward packets", "bread dough", "what is the budget", "planet orbit", "slide"]

    def ranked() -> list[list[tuple]]:
        return [
            _untied([(h.video_id, h.start, round(h.score, 6)) for h in sample_library.search(q, k=8, mode=mode)])
            for q in questions
            for mode in ("hybrid", "dense", "sparse")
        ]

    approximate_allowed = ranked()
    store.exact = True
    try:
        assert approximate_allowed == ranked()
    finally:
        store.exact = False
