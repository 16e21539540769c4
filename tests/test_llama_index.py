"""`vidrag.llama_index.VidragRetriever`: nodes that cite moments, filters, sync and async, in a query engine."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.vector_stores import FilterCondition, MetadataFilter, MetadataFilters

from tests.agent.scripted import ScriptedFunctionLLM
from tests.agent.tiny_library import TinyLibrary
from vidrag.llama_index import VidragRetriever, search_filters


def _filters(*items: tuple[str, str, object], condition: str = "and") -> MetadataFilters:
    return MetadataFilters(
        filters=[MetadataFilter(key=k, operator=op, value=v) for k, op, v in items],
        condition=FilterCondition(condition),
    )


def test_metadata_filters_map_to_the_video_and_time_filters():
    assert search_filters(_filters(("video", "==", "bread.mp4"), ("end", ">", 30), ("start", "<", 60.5))) == {
        "video": "bread.mp4",
        "start": 30.0,
        "end": 60.5,
    }
    assert search_filters(_filters(("video_id", "in", ["abc", "def"]))) == {"video": ["abc", "def"]}
    assert search_filters(None) == {}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (_filters(("start", ">=", 3)), "Unsupported metadata filter start >= 3; vidrag filters by video"),
        (_filters(("speaker", "==", "Ada")), "Unsupported metadata filter speaker == 'Ada'"),
        (_filters(("video", "!=", "a.mp4")), "Unsupported metadata filter video != 'a.mp4'"),
        (_filters(("video", "==", "a.mp4"), ("video", "==", "b.mp4")), "The 'video' bound is given twice"),
        (_filters(("end", ">", 1), ("start", "<", 5), condition="or"), "Unsupported filter condition 'or'"),
        (MetadataFilters(filters=[_filters(("end", ">", 1))]), "Nested metadata filters are not supported"),
    ],
)
def test_filters_vidrag_cannot_apply_exactly_are_refused(filters, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VidragRetriever(None, filters=filters)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="given both as an argument and as a metadata filter"):
        VidragRetriever(None, start=5.0, filters=_filters(("end", ">", 1)))
    with pytest.raises(ValueError, match="Unknown search mode 'fuzzy'; use one of hybrid, dense, sparse"):
        VidragRetriever(None, mode="fuzzy")
    with pytest.raises(ValueError, match="similarity_top_k must be at least 1"):
        VidragRetriever(None, top_k=0)
    with pytest.raises(ValueError, match="similarity_top_k must be at least 1"):
        VidragRetriever(None, similarity_top_k=0)
    with pytest.raises(ValueError, match="similarity_top_k=3 and top_k=4 disagree"):
        VidragRetriever(None, similarity_top_k=3, top_k=4)


def test_nodes_carry_the_clip_text_and_its_moment(tmp_path):
    library = TinyLibrary(tmp_path)
    retriever = VidragRetriever(library, similarity_top_k=2, media_base_url="http://127.0.0.1:8000/")
    nodes = retriever.retrieve("three-way handshake")
    assert len(nodes) == retriever.similarity_top_k == 2 and len(VidragRetriever(library, top_k=1).retrieve("ACK")) == 1
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    top = nodes[0].node
    assert top.text.startswith("Speech: A TCP connection opens with a three-way handshake: SYN, SYN-ACK, ACK.")
    assert top.text.splitlines()[1].startswith("On screen: ")
    assert top.metadata == {
        "video": "tcp_networking.mp4",
        "video_id": "vid1000000000000",
        "start": 0.0,
        "end": 9.0,
        "path": "/videos/tcp_networking.mp4",
        "media_url": "http://127.0.0.1:8000/videos/vid1000000000000/media#t=0.00,9.00",
    }
    assert [n.node.node_id for n in asyncio.run(retriever.aretrieve("three-way handshake"))] == [
        n.node.node_id for n in nodes
    ]
    local = VidragRetriever(library, top_k=1).retrieve("three-way handshake")[0].node
    assert local.metadata["media_url"] == "file:///videos/tcp_networking.mp4#t=0.00,9.00"
    library.close()


def _cite_first_context(messages) -> tuple[str, str]:
    """The scripted LLM's answer: cite the first moment the query engine put into the prompt."""
    prompt = messages[-1].content
    video, start, end = re.search(r"video: (\S+)\nstart: ([\d.]+)\nend: ([\d.]+)", prompt).groups()
    return ("answer", f"See [{video} @ {float(start):.1f}–{float(end):.1f}].")


def _first_question(sample_dir) -> dict:
    return json.loads((sample_dir / "sample_qa.jsonl").read_text().splitlines()[0])


def test_a_query_engine_answers_citing_the_right_moment(sample_library, sample_dir):
    qa = _first_question(sample_dir)
    llm = ScriptedFunctionLLM([_cite_first_context, _cite_first_context])
    engine = RetrieverQueryEngine.from_args(VidragRetriever(sample_library, top_k=3), llm=llm)
    response = engine.query(qa["question"])
    top = response.source_nodes[0].node
    assert top.metadata["video"] == qa["video"]
    assert top.metadata["start"] < qa["end"] and top.metadata["end"] > qa["start"]
    assert response.response == f"See [{qa['video']} @ {top.metadata['start']:.1f}–{top.metadata['end']:.1f}]."
    assert top.text and top.text in llm.seen[0][-1].content  # the clip's text reached the LLM
    again = asyncio.run(engine.aquery(qa["question"]))
    assert [n.node.node_id for n in again.source_nodes] == [n.node.node_id for n in response.source_nodes]


def test_metadata_filters_restrict_the_search(sample_library, sample_dir):
    qa = _first_question(sample_dir)
    other = "baking_bread.mp4" if qa["video"] != "baking_bread.mp4" else "tcp_networking.mp4"
    filters = _filters(("video", "==", other), ("end", ">", 20.0), ("start", "<", 60.0))
    nodes = VidragRetriever(sample_library, top_k=5, filters=filters).retrieve(qa["question"])
    assert nodes, "the filtered search found nothing"
    assert all(n.node.metadata["video"] == other for n in nodes)
    assert all(n.node.metadata["end"] > 20.0 and n.node.metadata["start"] < 60.0 for n in nodes)
    same = VidragRetriever(sample_library, top_k=5, video=other, start=20.0, end=60.0).retrieve(qa["question"])
    assert [n.node.node_id for n in same] == [n.node.node_id for n in nodes]


def test_a_similarity_cutoff_keeps_answers_and_drops_unrelated_in_every_mode(sample_library, sample_dir):
    """Scores are relevances on one [0, 1] scale (storage.fusion), so llama-index's postprocessor works."""
    from llama_index.core.postprocessor import SimilarityPostprocessor

    from vidrag.samples.content import UNRELATED_QUESTIONS

    cutoff = SimilarityPostprocessor(similarity_cutoff=0.3)
    qa = _first_question(sample_dir)
    for mode in ("hybrid", "dense"):
        retriever = VidragRetriever(sample_library, similarity_top_k=3, mode=mode)
        kept = cutoff.postprocess_nodes(retriever.retrieve(qa["question"]))
        assert kept and kept[0].node.metadata["video"] == qa["video"], mode
        dropped = [q for q in UNRELATED_QUESTIONS if not cutoff.postprocess_nodes(retriever.retrieve(q))]
        assert len(dropped) >= 0.8 * len(UNRELATED_QUESTIONS), (mode, len(dropped))
