"""A llama-index retriever over a vidrag library, so a llama-index app's query engine or agent cites moments.

    import vidrag
    from vidrag.llama_index import VidragRetriever
    from llama_index.core.query_engine import RetrieverQueryEngine

    library = vidrag.open_library(vidrag.Settings(home="vidrag-data"))
    engine = RetrieverQueryEngine.from_args(VidragRetriever(library, similarity_top_k=5), llm=my_llm)
    response = engine.query("How does a TCP connection open?")
    moment = response.source_nodes[0].metadata  # video, video_id, start, end, path, media_url

Each node's text leads with what is said in the clip ("Speech: ..."), then what is on screen ("On
screen: ..."), then the captioner's description of the picture ("Picture: ..."), since the words are
what distinguish one clip from another; it comes from the videos and is untrusted. The node's score is
the hit's score as vidrag's search gives it. llama-index `MetadataFilters` map onto vidrag's own filters (a video, and
time overlap); anything they cannot say exactly is refused with a ValueError rather than half-applied.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

if TYPE_CHECKING:
    from vidrag.api.client import RemoteLibrary
    from vidrag.storage.types import Hit
    from vidrag.tools.library import Library

SEARCH_MODES = ("hybrid", "dense", "sparse")
SearchFilter = str | list[str] | float
"""A search argument's value: a video (`video`: one or several) or a time bound (`start`, `end`)."""
_VIDEO_KEYS = ("video", "video_id")
_FILTER_HELP = (
    "vidrag filters by video (`video` or `video_id` with == or in) and by time overlap (`end` > T: clips "
    "ending after T; `start` < T: clips starting before T), all joined with AND"
)


def search_filters(filters: MetadataFilters | None) -> dict[str, SearchFilter]:
    """vidrag's search filters (`video`, `start`, `end`) for llama-index metadata filters.

    Raises:
        ValueError: a filter vidrag cannot apply exactly (another key or operator, OR/NOT, nesting),
            or the same bound given twice.
    """
    out: dict[str, SearchFilter] = {}
    if filters is None:
        return out
    if filters.condition not in (None, FilterCondition.AND):
        raise ValueError(f"Unsupported filter condition {filters.condition.value!r}; {_FILTER_HELP}.")
    for item in filters.filters:
        if not isinstance(item, MetadataFilter):
            raise ValueError(f"Nested metadata filters are not supported; {_FILTER_HELP}.")
        name, value = _one_filter(item)
        if name in out:
            raise ValueError(f"The {name!r} bound is given twice in the metadata filters; give it once.")
        out[name] = value
    return out


def _one_filter(item: MetadataFilter) -> tuple[str, SearchFilter]:
    """(vidrag search argument, value) for one metadata filter."""
    key, op, value = item.key, item.operator, item.value
    if key in _VIDEO_KEYS and op == FilterOperator.EQ and isinstance(value, str):
        return "video", value
    if key in _VIDEO_KEYS and op == FilterOperator.IN and isinstance(value, list) and value:
        return "video", [str(v) for v in value]
    if key == "end" and op == FilterOperator.GT and isinstance(value, (int, float)):
        return "start", float(value)
    if key == "start" and op == FilterOperator.LT and isinstance(value, (int, float)):
        return "end", float(value)
    raise ValueError(f"Unsupported metadata filter {key} {op.value} {value!r}; {_FILTER_HELP}.")


class VidragRetriever(BaseRetriever):
    """Clips of a vidrag library that match a query, as llama-index nodes.

    Args:
        library: an open `vidrag.Library` (e.g. from `vidrag.open_library`).
        similarity_top_k: how many clips to return (llama-index's name; `top_k` is the same).
        mode: "hybrid" (dense + words, the library's default when None), "dense" or "sparse".
        video: only this video, or these videos (id, id prefix, path or file name).
        start: only clips ending after this time, seconds.
        end: only clips starting before this time, seconds.
        filters: llama-index metadata filters, mapped onto the same video/time filters.
        media_base_url: a `vidrag serve` address; media URLs then point at its `/videos/{id}/media`
            instead of the local file.

    Raises:
        ValueError: fewer than 1 clip, two different counts, an unknown mode, an unsupported filter, or a
            bound given both as an argument and as a filter.
    """

    def __init__(
        self,
        library: Library | RemoteLibrary,
        *,
        similarity_top_k: int | None = None,
        top_k: int | None = None,
        mode: str | None = None,
        video: str | list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        filters: MetadataFilters | None = None,
        media_base_url: str | None = None,
        **kwargs: object,
    ) -> None:
        if similarity_top_k is not None and top_k is not None and similarity_top_k != top_k:
            raise ValueError(f"similarity_top_k={similarity_top_k} and top_k={top_k} disagree; give one of them.")
        top_k = similarity_top_k if similarity_top_k is not None else top_k if top_k is not None else 5
        if top_k < 1:
            raise ValueError(f"similarity_top_k must be at least 1, got {top_k}.")
        if mode is not None and mode not in SEARCH_MODES:
            raise ValueError(f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}.")
        given = {k: v for k, v in (("video", video), ("start", start), ("end", end)) if v is not None}
        mapped = search_filters(filters)
        both = sorted(set(given) & set(mapped))
        if both:
            raise ValueError(f"{', '.join(both)} given both as an argument and as a metadata filter; give it once.")
        self.library, self.top_k, self.mode = library, top_k, mode
        self.where = {**given, **mapped}
        server = getattr(library, "server", None)  # a RemoteLibrary: moments play from its server
        media_base_url = media_base_url or getattr(server, "url", None)
        self.media_base_url = media_base_url.rstrip("/") if media_base_url else None
        super().__init__(**kwargs)

    @property
    def similarity_top_k(self) -> int:
        """How many clips a query returns (llama-index's name for it)."""
        return self.top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.library.search(query_bundle.query_str, k=self.top_k, mode=self.mode, **self.where)
        return [NodeWithScore(node=self._node(hit), score=float(hit.score)) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """The same search in a worker thread, so the event loop keeps running while it embeds and queries."""
        return await asyncio.to_thread(self._retrieve, query_bundle)

    def _node(self, hit: Hit) -> TextNode:
        path = Path(hit.video)
        metadata = {
            "video": path.name,
            "video_id": hit.video_id,
            "start": round(float(hit.start), 3),
            "end": round(float(hit.end), 3),
            "path": str(path),
            "media_url": self._media_url(hit),
        }
        return TextNode(
            id_=f"{hit.video_id}:{hit.start:.3f}-{hit.end:.3f}",
            text=node_text(hit),
            metadata=metadata,
            excluded_llm_metadata_keys=["video_id", "path", "media_url"],
            excluded_embed_metadata_keys=list(metadata),
        )

    def _media_url(self, hit: Hit) -> str:
        """Where the moment plays: a media-fragment URL (`#t=start,end`) of the server or the file."""
        fragment = f"#t={hit.start:.2f},{hit.end:.2f}"
        if self.media_base_url:
            return f"{self.media_base_url}/videos/{hit.video_id}/media{fragment}"
        return Path(hit.video).absolute().as_uri() + fragment


def node_text(hit: Hit) -> str:
    """What a clip says and shows, in that order, then the description of its picture; a hit without
    those fields (a whole-video summary) keeps its text."""
    parts = []
    if getattr(hit, "transcript", ""):
        parts.append(f"Speech: {hit.transcript}")
    if getattr(hit, "ocr", ""):
        parts.append("On screen: " + " / ".join(line for line in hit.ocr.split("\n") if line.strip()))
    if parts and getattr(hit, "caption", ""):
        parts.append(f"Picture: {hit.caption}")
    return "\n".join(parts) or hit.text


__all__ = ["SEARCH_MODES", "VidragRetriever", "node_text", "search_filters"]
