"""How the clip store indexes its vectors: exact under a size threshold, HNSW above it — the one place
where those parameters are set, for the embedded Qdrant Edge store and a Qdrant server alike.

A segment whose dense vectors fill less than `exact_below` clips is scanned exactly: small libraries
(every QA library, anything up to about 40 hours of video at ~512 clips an hour) rank exactly as they
always did. A larger segment gets an HNSW graph, built once after a bulk ingest (`ClipStore.bulk`),
not point by point: Qdrant Edge only optimises when asked, and a server's indexing is paused for the
duration of the bulk write. A filter that leaves fewer than `exact_below` clips (one video, a time
range within a few videos) is answered exactly from the payload indexes, without the graph.

Figures behind the defaults (2 cores, 384-d vectors): docs/scale.md, `benchmarks/bench_search.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

QUANTIZATIONS = (None, "int8")


@dataclass(frozen=True)
class IndexPolicy:
    """Index parameters of a clip collection.

    Attributes:
        exact_below: clips per segment under which search stays exact (no HNSW graph is built), and
            the filtered-result size under which a filtered search scans exactly.
        m: HNSW links per node.
        ef_construct: candidates considered while building the graph.
        hnsw_ef: candidates considered per search (recall against speed).
        quantization: "int8" (the default: scalar-quantised copies of the vectors in RAM for the graph
            search, the original vectors re-score the candidates) or None (float32 vectors only). At
            1M clips on 2 cores int8 halves dense search (5.4-6.3 against 11.6 ms p50), takes hybrid
            search from 22.2 to 13.2-15.1 ms and the build from 1,655 to 557 s, with the same recall@10
            (0.9915 against 0.9905 hybrid); segments under `exact_below` are never quantised, so
            small libraries rank exactly as before (docs/scale.md).
        oversampling: with quantisation, candidates fetched per result before re-scoring.
    """

    exact_below: int = 20_000
    m: int = 16
    ef_construct: int = 128
    hnsw_ef: int = 512
    quantization: str | None = "int8"
    oversampling: float = 2.0

    def __post_init__(self) -> None:
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization {self.quantization!r} is not one of {QUANTIZATIONS}")
        if min(self.exact_below, self.m, self.ef_construct, self.hnsw_ef) < 1:
            raise ValueError(f"index policy values must be positive: {self}")

    def threshold_kb(self, dim: int) -> int:
        """`exact_below` clips as Qdrant counts it: kilobytes of float32 vectors (1 KB = 256 floats)."""
        return max(1, self.exact_below * dim * 4 // 1024)

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    # Qdrant Edge ------------------------------------------------------------------------------

    def edge_parts(self, edge: Any, dim: int) -> dict[str, Any]:
        """The EdgeConfig arguments this policy sets (everything but the vectors)."""
        quantization = (
            edge.ScalarQuantizationConfig(edge.ScalarType.Int8, quantile=0.99, always_ram=True)
            if self.quantization == "int8"
            else None
        )
        return {
            "hnsw_config": edge.HnswIndexConfig(
                m=self.m, ef_construct=self.ef_construct, full_scan_threshold=self.threshold_kb(dim)
            ),
            "optimizers": edge.EdgeOptimizersConfig(indexing_threshold=self.threshold_kb(dim)),
            "quantization_config": quantization,
        }

    def edge_search_params(self, edge: Any, exact: bool = False) -> Any:
        quantization = (
            edge.QuantizationSearchParams(rescore=True, oversampling=self.oversampling) if self.quantization else None
        )
        return edge.SearchParams(hnsw_ef=self.hnsw_ef, exact=exact, quantization=quantization)

    # qdrant-client (server) ---------------------------------------------------------------------

    def client_parts(self, models: Any, dim: int) -> dict[str, Any]:
        """The create_collection arguments this policy sets on a Qdrant server."""
        quantization = (
            models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
            )
            if self.quantization == "int8"
            else None
        )
        return {
            "hnsw_config": models.HnswConfigDiff(
                m=self.m, ef_construct=self.ef_construct, full_scan_threshold=self.threshold_kb(dim)
            ),
            "optimizers_config": models.OptimizersConfigDiff(indexing_threshold=self.threshold_kb(dim)),
            "quantization_config": quantization,
        }

    def client_search_params(self, models: Any, exact: bool = False) -> Any:
        quantization = (
            models.QuantizationSearchParams(rescore=True, oversampling=self.oversampling) if self.quantization else None
        )
        return models.SearchParams(hnsw_ef=self.hnsw_ef, exact=exact, quantization=quantization)


DEFAULT_POLICY = IndexPolicy()


@dataclass
class IndexStatus:
    """What the store's index looks like now (for `/ready` and `vidrag doctor`).

    `search` is "exact" (no vector is in an HNSW graph), "approximate" (all are) or "partial"
    (some points wait for the next optimisation: they are still found, by exact scan).
    """

    points: int
    indexed_vectors: int
    segments: int
    optimizer: str
    policy: dict[str, Any]

    @property
    def search(self) -> str:
        if self.indexed_vectors == 0:
            return "exact"
        return "approximate" if self.indexed_vectors >= self.points else "partial"

    def summary(self) -> str:
        threshold = self.policy["exact_below"]
        quantization = self.policy.get("quantization")
        if self.search == "exact":
            then = f" and {quantization} quantised" if quantization else ""
            how = f"exact search (HNSW{then} above {threshold:,} clips a segment)"
            quant = ""
        else:
            how = f"{self.search} search: {self.indexed_vectors:,} vectors in HNSW (m={self.policy['m']})"
            quant = f", {quantization} quantised" if quantization else ""
        return f"{self.points:,} points; {how}{quant}; {self.segments} segments; optimizer {self.optimizer}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "search": self.search, "summary": self.summary()}
