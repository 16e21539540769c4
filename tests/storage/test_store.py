"""The clip store on both embedded backends (Qdrant Edge, qdrant-client local mode): hybrid search,
filters, idempotent writes, persistence, concurrent reads during writes."""

import numpy as np
import pytest
from qdrant_client import QdrantClient

from vidrag.indexing.embed import SparseEncoder
from vidrag.storage.edge_store import EdgeClipStore
from vidrag.storage.errors import BackendUnavailable, InputError
from vidrag.storage.ids import clip_point_id, content_hash, video_id_from_hash
from vidrag.storage.qdrant_store import ClipVectors, QdrantClientStore
from vidrag.storage.types import Clip

DIM = 4


def _item(video_id: str, start: float, end: float, dense: list[float], text: str) -> ClipVectors:
    clip = Clip(video_id, f"/v/{video_id}.mp4", 0, start, end, transcript=text)
    return ClipVectors(clip, dense, SparseEncoder().document(text))


def _open(backend: str, folder, dim: int = DIM):
    if backend == "edge":
        return EdgeClipStore(folder / "edge", dim=dim)
    return QdrantClientStore(QdrantClient(path=str(folder / "local")), "t", dim=dim)


@pytest.fixture(params=["edge", "client-local"])
def store(request, tmp_path):
    opened = _open(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture()
def filled(store):
    store.upsert(
        [
            _item("a", 0, 10, [1, 0, 0, 0], "the kettle boils water for tea"),
            _item("a", 10, 20, [0, 1, 0, 0], "routers forward packets between networks"),
            _item("b", 0, 10, [0, 0, 1, 0], "jupiter is the largest planet"),
            _item("b", 10, 20, [0.9, 0.1, 0, 0], "green tea steeps for two minutes"),
        ]
    )
    return store


def test_point_ids_are_deterministic_and_span_specific():
    assert clip_point_id("v", 0.0, 10.0) == clip_point_id("v", 0.0, 10.0)
    assert clip_point_id("v", 0.0, 10.0) != clip_point_id("v", 0.0, 10.001)
    assert clip_point_id("v", 0.0, 10.0) != clip_point_id("w", 0.0, 10.0)


def test_video_id_is_a_content_hash(tmp_path):
    one, two = tmp_path / "1.bin", tmp_path / "2.bin"
    one.write_bytes(b"same bytes")
    two.write_bytes(b"same bytes")
    assert video_id_from_hash(content_hash(one)) == video_id_from_hash(content_hash(two))
    two.write_bytes(b"other bytes")
    assert content_hash(one) != content_hash(two)


def test_dense_search_ranks_by_cosine(filled):
    hits = filled.search([1, 0, 0, 0], None, k=2, mode="dense")
    assert [(h.video_id, h.start) for h in hits] == [("a", 0.0), ("b", 10.0)]


def test_sparse_search_matches_words(filled):
    hits = filled.search([0, 0, 0, 1], SparseEncoder().query("largest planet"), k=1, mode="sparse")
    assert (hits[0].video_id, hits[0].start) == ("b", 0.0)


def test_hybrid_fuses_dense_and_words(filled):
    # Dense points at clip a/0-10; the words point at b/10-20 ("green tea"); both must come first.
    hits = filled.search([1, 0, 0, 0], SparseEncoder().query("green tea"), k=4, mode="hybrid")
    top_two = {(h.video_id, h.start) for h in hits[:2]}
    assert top_two == {("a", 0.0), ("b", 10.0)}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_scores_are_relevances_in_one_scale_best_first(filled, mode):
    hits = filled.search([1, 0, 0, 0], SparseEncoder().query("green tea kettle"), k=4, mode=mode)
    assert hits, mode
    scores = [h.score for h in hits]
    assert all(0.0 <= s <= 1.0 for s in scores), scores
    assert scores == sorted(scores, reverse=True)
    assert hits[0].score > 0.3  # a clip the query names and points at is relevant on the same scale


def _library_items(rng) -> list[ClipVectors]:
    """Clips made to tie: pairs with the same vector and words in two videos, and clips that swap
    places between the dense and the word ranking (what reciprocal-rank fusion scored alike)."""
    topics = ["tcp handshake syn ack", "bread dough yeast rise", "jupiter storm red spot", "git branch merge"]
    items = []
    for video in ("v1", "v2", "v3"):
        for n, topic in enumerate(topics):
            vector = rng.standard_normal(DIM)
            items.append(_item(video, 10.0 * n, 10.0 * n + 10, (vector / np.linalg.norm(vector)).tolist(), topic))
    twin = [0.6, 0.8, 0.0, 0.0]
    items += [_item(v, 100.0, 110.0, twin, "title slide agenda overview") for v in ("v2", "v1", "v3")]
    return items


@pytest.mark.parametrize("backend", ["edge", "client-local"])
def test_the_order_is_the_same_whatever_the_write_order_batches_and_segments(tmp_path, backend):
    """Two stores of the same clips, written in other orders and batch sizes (the second one's
    segments merged by an index build), give the same hits in the same order with the same scores."""
    items = _library_items(np.random.default_rng(7))
    shuffled = [items[i] for i in np.random.default_rng(1).permutation(len(items))]
    first, second = _open(backend, tmp_path / "one"), _open(backend, tmp_path / "two")
    try:
        first.upsert(items, batch_size=len(items))
        for item in shuffled:
            second.upsert([item], batch_size=1)
        second.build_index()
        queries = [([0.6, 0.8, 0, 0], "agenda"), ([1, 0, 0, 0], "yeast dough"), ([0, 0, 1, 0], "syn ack storm")]
        for dense, words in queries:
            for mode in ("hybrid", "dense", "sparse"):
                a = first.search(dense, SparseEncoder().query(words), k=6, mode=mode)
                b = second.search(dense, SparseEncoder().query(words), k=6, mode=mode)
                assert [(h.video_id, h.start, h.score) for h in a] == [(h.video_id, h.start, h.score) for h in b]
        ties = first.search([0.6, 0.8, 0, 0], SparseEncoder().query("agenda"), k=3)
        assert [h.video_id for h in ties] == ["v1", "v2", "v3"]  # equal scores: by video id, not write order
        assert len({h.score for h in ties}) == 1
    finally:
        first.close()
        second.close()


def test_filters_by_video_and_time_range(filled):
    hits = filled.search([1, 0, 0, 0], None, k=10, video_ids=["b"], mode="dense")
    assert {h.video_id for h in hits} == {"b"}
    hits = filled.search([1, 0, 0, 0], None, k=10, start=12.0, end=30.0, mode="dense")
    assert {(h.video_id, h.start) for h in hits} == {("a", 10.0), ("b", 10.0)}


def test_upserting_the_same_clips_does_not_duplicate(filled):
    before = filled.count()
    filled.upsert([_item("a", 0, 10, [1, 0, 0, 0], "the kettle boils water for tea")])
    assert filled.count() == before


def test_delete_video_keeps_only_named_points(filled):
    keep = clip_point_id("a", 0.0, 10.0)
    assert filled.delete_video("a", keep=[keep]) == 1
    assert [c.start for c in filled.clips("a")] == [0.0]


def test_unknown_mode_is_rejected(filled):
    with pytest.raises(InputError, match="Unknown search mode"):
        filled.search([1, 0, 0, 0], None, mode="fuzzy")


@pytest.mark.parametrize("backend", ["edge", "client-local"])
def test_dimension_mismatch_is_explained(tmp_path, backend):
    _open(backend, tmp_path, dim=4).close()
    with pytest.raises(InputError, match="4-d vectors but the embedder makes 8-d"):
        _open(backend, tmp_path, dim=8)


@pytest.mark.parametrize("backend", ["edge", "client-local"])
def test_points_persist_across_reopen(tmp_path, backend):
    first = _open(backend, tmp_path)
    first.upsert([_item("a", 0, 5, [1, 0, 0, 0], "hello there")])
    first.close()
    reopened = _open(backend, tmp_path)
    assert reopened.count() == 1
    assert reopened.clips("a")[0].transcript == "hello there"
    reopened.close()


def test_a_second_open_of_an_edge_folder_is_explained(tmp_path):
    first = _open("edge", tmp_path)
    try:
        with pytest.raises(BackendUnavailable, match="is in use by this process already"):
            _open("edge", tmp_path)
    finally:
        first.close()


@pytest.mark.parametrize("backend", ["edge"])
@pytest.mark.slow
def test_searches_run_safely_while_an_ingest_writes(tmp_path, backend):
    """The API searches while its job worker writes: reads must neither fail nor see a broken store."""
    import threading

    store = _open(backend, tmp_path)
    rng = np.random.default_rng(0)

    def clip_items(video: int) -> list[ClipVectors]:
        vectors = rng.standard_normal((50, DIM))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return [_item(f"v{video}", i, i + 1, vectors[i].tolist(), f"word{i % 7} shared text") for i in range(50)]

    batches = [clip_items(video) for video in range(15)]
    errors: list[str] = []
    finished = threading.Event()
    searches = [0]

    def write() -> None:
        try:
            for video, items in enumerate(batches):
                store.upsert(items)
                if video % 5 == 4:
                    store.delete_video(f"v{video - 1}")
        except Exception as err:  # noqa: BLE001 - the assertion below reports it
            errors.append(f"write: {err!r}")
        finally:
            finished.set()

    def read() -> None:
        while not finished.is_set():
            try:
                hits = store.search([1, 0, 0, 0], SparseEncoder().query("word3 shared"), k=5)
                assert all(h.end - h.start == 1 for h in hits)
                searches[0] += 1
            except Exception as err:  # noqa: BLE001
                errors.append(f"read: {err!r}")
                return

    threads = [threading.Thread(target=write), threading.Thread(target=read), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert searches[0] > 0
    assert store.count() == 15 * 50 - 3 * 50
    store.close()


def test_holds_any_answers_from_the_term_index(filled):
    from vidrag.indexing.embed import word_forms

    assert filled.holds_any(word_forms("kettles"))
    assert filled.holds_any(word_forms("steep"))  # "steeps" in one clip
    assert not filled.holds_any(word_forms("espresso"))
    assert not filled.holds_any([])


def test_edge_reads_only_the_clips_that_can_rank_and_ranks_as_if_it_read_all(tmp_path):
    """Edge search reads the payload and vector of the few candidates whose score bounds (from the
    engine's cosine) reach the top k; the hits equal those of scoring every candidate from its vector."""
    from vidrag.storage.fusion import rank
    from vidrag.storage.qdrant_store import SEARCH_DEPTH, Where

    rng = np.random.default_rng(11)
    dim, words = 16, "tcp handshake syn ack bread dough yeast storm jupiter branch merge window".split()
    topics = [rng.standard_normal(dim) for _ in range(4)]
    items = []
    for video in range(4):
        for n in range(60):
            vector = topics[video] + rng.standard_normal(dim) * 0.9
            text = " ".join(rng.choice(words, size=int(rng.integers(3, 9))))
            items.append(_item(f"v{video}", 5.0 * n, 5.0 * n + 5, vector.tolist(), text))
    store = EdgeClipStore(tmp_path / "edge", dim=dim)
    try:
        store.upsert(items)
        read_counts = []
        real_read = store._read
        store._read = lambda cands: (read_counts.append(len(cands)), real_read(cands))[1]
        for q in range(12):
            dense = (topics[q % 4] + rng.standard_normal(dim)).tolist()
            sparse = SparseEncoder().query(" ".join(rng.choice(words, size=3)))
            for mode in ("hybrid", "dense", "sparse"):
                for videos, start, end in ((None, None, None), (["v1"], None, None), (["v0", "v2"], 50.0, 200.0)):
                    hits = store.search(dense, sparse, k=8, mode=mode, video_ids=videos, start=start, end=end)
                    where = Where(video_ids=videos, kind="clip", ends_after=start, starts_before=end)
                    everything = store._candidates(dense, sparse, where, SEARCH_DEPTH, mode)
                    real_read(everything)
                    terms = dict(zip(sparse.indices, sparse.values))
                    expected = rank(everything, dense, terms, mode=mode, k=8)
                    assert [(h.video_id, h.start, h.score) for h in hits] == [
                        (p["video_id"], p["start"], s) for p, s in expected
                    ]
        assert sum(read_counts) < 0.5 * len(read_counts) * 2 * SEARCH_DEPTH
    finally:
        store.close()


def test_edge_search_whose_found_points_cannot_be_read_is_an_error_not_an_empty_result(tmp_path, monkeypatch):
    from vidrag.storage.errors import StoreFailure

    store = EdgeClipStore(tmp_path / "edge", dim=DIM)
    try:
        store.upsert([_item("a", 0, 10, [1, 0, 0, 0], "kettle water tea"), _item("b", 0, 10, [0, 1, 0, 0], "bread")])
        assert store.search([1, 0, 0, 0], SparseEncoder().query("tea"), k=1)[0].video_id == "a"
        shard = store.shard

        class Forgetful:  # the engine finds points, then returns none of them when asked
            def __getattr__(self, name):
                return getattr(shard, name)

            def retrieve(self, ids, with_payload, with_vector):
                return [] if with_payload else shard.retrieve(ids, with_payload, with_vector)

        monkeypatch.setattr(store, "shard", Forgetful())
        with pytest.raises(StoreFailure, match="none of the"):
            store.search([1, 0, 0, 0], SparseEncoder().query("tea"), k=1)
    finally:
        monkeypatch.undo()
        store.close()
