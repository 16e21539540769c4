"""Hybrid relevance: one score in [0, 1] per clip, computed from that clip and the query alone.

Reciprocal-rank fusion gave two clips the same score whenever the dense and the word ranking swapped
them (1/(k+1) + 1/(k+2) both ways), and the engine broke such ties by whatever order its segments
returned, so one library answered differently from one process to the next. Here a clip's score
depends only on the query and the clip: its cosine with the query and how much of the query's weight
its words cover. Which engine stage found the clip, how the points were split into segments and in
what order they were written do not enter; equal scores (rounded to `DIGITS`) are ordered by the
clip's video id and times.

The scale is calibrated on the sample library (benchmarks/calibrate_relevance.py prints it; Whisper
base, 2026-12-05): the top hit of the 41 QA questions scores 0.35–0.93 in hybrid mode (median 0.63),
that of the 48 unrelated questions 0–0.37 (median 0.13, 9 in 10 below 0.28); dense mode 0.42–0.91 and
0–0.44. A cut such as llama-index's `SimilarityPostprocessor(similarity_cutoff=0.3)` keeps the answers
and drops most of the unrelated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

# Cosine of MiniLM query and clip vectors mapped linearly onto [0, 1] between these two values: an
# unrelated question's nearest clip sits near 0.15, a paraphrase's answer at 0.45–0.75.
COSINE_FLOOR = 0.10
COSINE_CEILING = 0.75
# Share of the hybrid score that comes from the words. The words decide between clips of one topic
# (the clip that names "SYN-ACK" beats its neighbour); meaning keeps a clip that shares one rare
# word with the question, and nothing else, low.
WORD_SHARE = 0.35
# A document's BM25 term weight at which a word counts as fully present (one occurrence in a clip
# of average length); longer clips count a single mention a little less.
FULL_TERM = 1.0
DIGITS = 5


@dataclass
class Candidate:
    """A stored point found by an engine stage: its sparse term weights, and either its payload and dense
    vector or, while those are unread, the engine's cosine with the query (`rank` reads the ones that
    can still reach the top k)."""

    point_id: str
    payload: dict[str, Any] | None
    dense: Sequence[float] | None  # as the engine returns it: `rank` turns all candidates' vectors into one array
    terms: Mapping[int, float] = field(default_factory=dict)
    cosine: float | None = None  # the engine's cosine while `dense` is unread (None: not known)

    @property
    def unread(self) -> bool:
        return self.dense is None or self.payload is None


# The engine's cosine (float32, re-scored on the stored vectors) is within this of the float64 cosine
# `rank` computes from the same vectors: a float32 dot product of two unit 384-d vectors errs by at most
# ~384 * 2**-24 = 2.3e-5 on any CPU; measured at most 1.4e-7 (1M clips, int8 index, 300 queries).
ENGINE_COSINE_ERROR = 1e-4

T = TypeVar("T")

# The most points one engine stage returns while it widens past a tie at its cut (see `untied`).
MAX_DEPTH = 1024


def untied(fetch: Callable[[int], list[tuple[float, T]]], depth: int) -> list[T]:
    """An engine stage's top `depth`, widened while the points at the cut tie.

    The engine orders equal scores by where a point sits in its segments, which depends on the order
    the points were written: cutting inside a run of equal scores (twin slides in two videos, clips
    holding the same query words the same number of times) would keep a different subset per ingest.
    `fetch(n)` returns up to n (engine score, item) pairs, best first (an item: a candidate or a point id).
    """
    limit = depth
    while True:
        found = fetch(limit + 1)
        if len(found) <= depth:
            return [candidate for _, candidate in found]
        edge, end = round(found[depth - 1][0], DIGITS), depth
        while end < len(found) and round(found[end][0], DIGITS) == edge:
            end += 1
        if end < len(found) or len(found) <= limit or limit >= MAX_DEPTH:
            return [candidate for _, candidate in found[:end]]
        limit *= 2


def dense_relevance(cosine: float) -> float:
    """The cosine mapped onto [0, 1] (`COSINE_FLOOR` → 0, `COSINE_CEILING` → 1)."""
    return min(1.0, max(0.0, (float(cosine) - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR)))


def word_coverages(query: Mapping[int, float], clips: Iterable[Mapping[int, float]]) -> list[float]:
    """For each clip, the share of the query's word weight (rarer words weigh more) that its words hold,
    each word counted by its BM25 weight in the clip up to `FULL_TERM` (only the words it holds are
    added, in the query's order: a missing word would add 0.0)."""
    total = sum(query.values())
    if total <= 0:
        return [0.0 for _ in clips]
    words = list(query.items())
    out = []
    for terms in clips:
        held = 0.0
        for index, weight in words:
            value = terms.get(index)
            if value:
                held += weight * min(1.0, value / FULL_TERM)
        out.append(held / total)
    return out


def hybrid(cosine: float, coverage: float) -> float:
    return (1.0 - WORD_SHARE) * dense_relevance(cosine) + WORD_SHARE * coverage


def order_key(score: float, payload: Mapping[str, Any]) -> tuple[float, str, float, float, str]:
    """Best score first; equal (rounded) scores by video id, start, end and kind."""
    return (
        -round(score, DIGITS),
        str(payload.get("video_id", "")),
        float(payload.get("start", 0.0)),
        float(payload.get("end", 0.0)),
        str(payload.get("kind", "")),
    )


def _score(mode: str, cosine: float, coverage: float) -> float:
    if mode == "dense":
        return dense_relevance(cosine)
    if mode == "sparse":
        return coverage
    return hybrid(cosine, coverage)


def _contenders(candidates: list[Candidate], coverages: list[float], mode: str, k: int) -> list[int]:
    """Indexes of the candidates that can still be among the top `k`, from bounds on their scores.

    An unread candidate's score lies between its score at the engine's cosine minus and plus
    `ENGINE_COSINE_ERROR` (every score rises with the cosine; "sparse" ignores it). A candidate whose
    upper bound is more than two rounding steps under the k-th best lower bound has k candidates whose
    rounded scores are strictly higher, whatever the exact cosines, so the top k and its order are those
    of scoring every candidate exactly.
    """
    lows, highs = [], []
    for candidate, coverage in zip(candidates, coverages):
        if mode == "sparse":
            low = high = coverage
        elif candidate.cosine is None:
            low, high = -1.0, 2.0
        else:
            low = _score(mode, candidate.cosine - ENGINE_COSINE_ERROR, coverage)
            high = _score(mode, candidate.cosine + ENGINE_COSINE_ERROR, coverage)
        lows.append(low)
        highs.append(high)
    if len(candidates) <= k:
        return list(range(len(candidates)))
    floor = sorted(lows, reverse=True)[k - 1] - 2 * 10.0**-DIGITS
    return [i for i, high in enumerate(highs) if high >= floor]


def rank(
    candidates: Iterable[Candidate],
    dense: list[float],
    query_terms: Mapping[int, float] | None,
    *,
    mode: str,
    k: int,
    read: Callable[[list[Candidate]], None] | None = None,
) -> list[tuple[dict[str, Any], float]]:
    """Score every candidate in `mode` and keep the best `k` (payload, score) in a stable order.

    "dense" scores the cosine alone, "sparse" the word coverage (cosine as its tie-break), "hybrid"
    both; every score is rounded to `DIGITS`, so float noise from another CPU or batch does not
    reorder clips. Unread candidates (no vector or payload yet) are first narrowed to those whose
    score bounds can reach the top k (`_contenders`), and `read` fills in the payload and dense vector
    of those (one it cannot read, deleted since, is left out); the result is the same as scoring them
    all from their vectors.
    """
    unique = list({c.point_id: c for c in candidates}.values())  # a point from two engine stages counts once
    coverages = word_coverages(query_terms or {}, (c.terms for c in unique))
    if mode == "sparse":
        kept = [i for i, coverage in enumerate(coverages) if coverage > 0]
        unique, coverages = [unique[i] for i in kept], [coverages[i] for i in kept]
    if any(c.unread for c in unique):
        kept = _contenders(unique, coverages, mode, k)
        unique, coverages = [unique[i] for i in kept], [coverages[i] for i in kept]
        if read is None:
            raise ValueError("rank() was given unread candidates and no `read`")
        read([c for c in unique if c.unread])
        kept = [i for i, c in enumerate(unique) if not c.unread]  # a point deleted since the query stays unread
        unique, coverages = [unique[i] for i in kept], [coverages[i] for i in kept]
    if not unique:
        return []
    query = np.asarray(dense, dtype=np.float64)
    norm = float(np.linalg.norm(query)) or 1.0
    vectors = np.asarray([c.dense for c in unique], dtype=np.float64)
    lengths = np.linalg.norm(vectors, axis=1)
    cosines = (vectors @ query) / (np.where(lengths > 0, lengths, 1.0) * norm)
    scored = []
    for candidate, coverage, cosine in zip(unique, coverages, cosines.tolist()):
        score = _score(mode, cosine, coverage)
        second = cosine if mode == "sparse" else 0.0
        payload = candidate.payload or {}
        first, *rest = order_key(score, payload)
        scored.append(((first, -round(second, DIGITS), *rest, candidate.point_id), score, payload))
    scored.sort(key=lambda row: row[0])
    return [(payload, round(score, DIGITS)) for _, score, payload in scored[:k]]
