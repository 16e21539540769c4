"""The hybrid score (storage.fusion): one clip's score from that clip alone, and stable cuts."""

import numpy as np
import pytest

from vidrag.storage.fusion import (
    ENGINE_COSINE_ERROR,
    Candidate,
    dense_relevance,
    hybrid,
    rank,
    untied,
    word_coverages,
)


def _candidate(pid: str, video: str, start: float, vector, terms=None) -> Candidate:
    payload = {"video_id": video, "start": start, "end": start + 10, "kind": "clip"}
    return Candidate(pid, payload, np.asarray(vector, dtype=np.float32), terms or {})


def test_a_score_depends_on_the_clip_not_on_its_neighbours():
    query, words = [1.0, 0.0], {1: 2.0, 2: 1.0}
    one = _candidate("p1", "v", 0, [0.8, 0.6], {1: 1.2})
    alone = rank([one], query, words, mode="hybrid", k=1)[0][1]
    among = dict(
        (p["start"], s) for p, s in rank([one, _candidate("p2", "w", 5, [1, 0])], query, words, mode="hybrid", k=2)
    )
    assert among[0] == alone == round(hybrid(0.8, 2.0 / 3.0), 5)


def test_rank_swaps_do_not_tie():
    # A is nearer in meaning, B holds more of the words: reciprocal-rank fusion scored both 1/61 + 1/62
    query, words = [1.0, 0.0], {1: 3.0, 2: 1.0}
    a = _candidate("a", "va", 0, [0.9, 0.436], {2: 1.0})
    b = _candidate("b", "vb", 0, [0.7, 0.714], {1: 1.0})
    (first, s1), (second, s2) = rank([a, b], query, words, mode="hybrid", k=2)
    assert s1 != s2
    assert first["video_id"] == "vb"  # the rarer word it holds outweighs a little less meaning


def test_equal_scores_are_ordered_by_video_and_time_in_any_input_order():
    twins = [
        _candidate(f"p{i}", video, start, [1, 0]) for i, (video, start) in enumerate([("b", 0), ("a", 20), ("a", 10)])
    ]
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        hits = rank([twins[i] for i in order], [1.0, 0.0], None, mode="dense", k=3)
        assert [(p["video_id"], p["start"]) for p, _ in hits] == [("a", 10), ("a", 20), ("b", 0)]


def test_sparse_mode_keeps_only_clips_with_the_words_and_breaks_ties_by_meaning():
    words = {1: 1.0}
    near = _candidate("n", "z", 0, [1, 0], {1: 1.0})
    far = _candidate("f", "a", 0, [0, 1], {1: 1.0})
    none = _candidate("x", "a", 5, [1, 0], {})
    hits = rank([far, none, near], [1.0, 0.0], words, mode="sparse", k=3)
    assert [p["video_id"] for p, _ in hits] == ["z", "a"]


def test_word_coverage_weights_rare_words_and_saturates_repeats():
    assert word_coverages({1: 4.0, 2: 1.0}, [{1: 3.0}, {2: 0.5}]) == pytest.approx([0.8, 0.1])
    assert word_coverages({}, [{1: 1.0}]) == [0.0]
    assert dense_relevance(0.0) == 0.0 and dense_relevance(1.0) == 1.0


def test_a_stage_cut_inside_a_tie_widens_until_the_tie_ends():
    scores = [0.9] + [0.5] * 7 + [0.1] * 3
    pool = [(s, _candidate(f"p{i}", "v", i, [1, 0])) for i, s in enumerate(scores)]
    asked = []

    def fetch(limit):
        asked.append(limit)
        return pool[:limit]

    kept = untied(fetch, 3)
    assert [c.point_id for c in kept] == [f"p{i}" for i in range(8)]  # every tied 0.5, none of the 0.1s
    assert asked == [4, 7, 13]
    assert len(untied(lambda limit: pool[:limit], 20)) == len(pool)


def test_word_coverages_equal_the_sum_over_every_query_word_to_the_last_bit():
    # the scores before 2026-12-07 summed over every query word, missing ones as 0.0: the same floats

    rng = np.random.default_rng(7)
    for _ in range(200):
        query = {int(i): float(w) for i, w in zip(rng.choice(50, 6, replace=False), rng.random(6) * 3)}
        clips = [
            {int(i): float(w) for i, w in zip(rng.choice(50, 12, replace=False), rng.random(12) * 2)} for _ in range(5)
        ]
        total = sum(query.values())
        every_word = [sum(w * min(1.0, terms.get(i, 0.0) / 1.0) for i, w in query.items()) / total for terms in clips]
        assert word_coverages(query, clips) == every_word


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_reading_only_the_contenders_gives_the_ranking_of_reading_all(mode):
    """Unread candidates carry the engine's float32 cosine; `rank` reads those whose bounds reach the top
    k and must return exactly what scoring every candidate from its vector returns, ties included."""
    rng = np.random.default_rng(3)
    query = rng.normal(size=16)
    words = {1: 2.0, 2: 1.0, 3: 0.5}
    read = []
    for trial in range(60):
        full, lazy = [], []
        for i in range(40):
            # clips near-identical in pairs, so rounded scores tie and the stable key decides
            fresh = query * rng.uniform(0.1, 0.9) + rng.normal(size=16)
            vector = (fresh if i % 2 == 0 else full[-1].dense).astype(np.float32)
            terms = {t: float(rng.integers(1, 3)) for t in (1, 2, 3, 7) if rng.random() < 0.4}
            payload = {"video_id": f"v{i % 3}", "start": float(i), "end": float(i) + 10, "kind": "clip"}
            full.append(Candidate(f"p{i:02d}", payload, vector, terms))
            v64, q64 = vector.astype(np.float64), query.astype(np.float64)
            engine = float(np.float32(v64 @ q64 / np.linalg.norm(v64) / np.linalg.norm(q64)))
            lazy.append(Candidate(f"p{i:02d}", None, None, terms, engine))

        by_id = {c.point_id: c for c in full}

        def fill(cands, read=read, by_id=by_id):
            read.extend(c.point_id for c in cands)
            for c in cands:
                c.payload, c.dense = by_id[c.point_id].payload, by_id[c.point_id].dense

        k = 1 + trial % 10
        assert rank(lazy, query, words, mode=mode, k=k, read=fill) == rank(full, query, words, mode=mode, k=k)
    assert len(read) < 60 * 40 / 2  # most candidates are never read (sparse too: ties are few here)


def test_an_unread_candidate_within_the_engine_error_of_the_cut_is_read():
    cosines = {"a": 0.5, "b": 0.5 - 2 * ENGINE_COSINE_ERROR - 1e-3, "c": 0.5 - ENGINE_COSINE_ERROR / 2}
    read = []

    def fill(cands):
        read.extend(c.point_id for c in cands)
        for c in cands:
            c.payload = {"video_id": c.point_id, "start": 0.0, "end": 1.0, "kind": "clip"}
            c.dense = [cosines[c.point_id], (1 - cosines[c.point_id] ** 2) ** 0.5]

    def lazy(*ids):
        return [Candidate(i, None, None, {}, cosines[i]) for i in ids]

    # "b" is further under "a" than the engine can err: it cannot be first, so it is never read
    assert [p["video_id"] for p, _ in rank(lazy("a", "b"), [1.0, 0.0], None, mode="dense", k=1, read=fill)] == ["a"]
    assert read == ["a"]
    read.clear()
    # "c" is within the error: either may be first, so both are read and scored exactly
    assert [p["video_id"] for p, _ in rank(lazy("a", "c"), [1.0, 0.0], None, mode="dense", k=1, read=fill)] == ["a"]
    assert sorted(read) == ["a", "c"]
