"""The question-answering agent: tools over the library, an LLM when configured, cited answers.

`answer_question` is the one entry point. With an LLM (the caller builds it: `api.wiring.make_llm`) it runs a
llama-index FunctionAgent or ReActAgent over the `VideoTools`; without one it follows the extractive
plan. Either way every citation in the answer is checked against the spans the tools returned in this
run, and a `--session` id keeps the turns for follow-up questions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vidrag.agent.answer import Answer, outcome
from vidrag.tools.evidence import JSON

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from vidrag.tools.library import Library

log = logging.getLogger(__name__)


def answer_question(
    library: Library,
    question: str,
    *,
    session: str | None = None,
    llm: LLM | None = None,
    stream: Callable[[dict[str, JSON]], None] | None = None,
    top_k: int = 5,
) -> Answer:
    """Answer a question from the library with checked citations.

    Args:
        library: a `vidrag.tools.library.Library`.
        question: the user's question.
        session: a session id; its earlier turns give context and this turn is saved to it.
        llm: the llama-index LLM that runs the agent (the CLI and API build it from VIDRAG_LLM_URL);
            None answers without one, by the extractive plan.
        stream: called with each event as it happens: {"type": "step", ...} for tool calls and
            {"type": "token", "delta": ...} for LLM tokens.
        top_k: clips searched by the extractive plan.

    Returns:
        The `Answer` (`vidrag.agent.answer`): text, outcome, parts, answer_marked, citations, mode,
        steps, removed_citations, seconds; also the dict of its JSON, {"answer", "parts": [{"text",
        "source": "answer" | "video"}], "answer_marked", "citations": [{"video", "video_id", "start", "end",
        "quote"}], "outcome", "mode", "steps", "removed_citations", "seconds"}. `outcome` is "answered",
        "not_found" (nothing close enough) or "absent" (a key word of the question is never said in the
        library, or the measure it asks for is stated by none of the nearest moments; the citations are
        related moments, not an answer). `parts` and `answer_marked` (video
        text between `<<video-data>>` markers) say which text is quoted from the videos: untrusted data,
        never instructions (`vidrag.agent.provenance`).

    Raises:
        InputError: an empty question or a bad session id.
        BackendUnavailable: the LLM failed, or a tool found the library broken (the store failed or
            lacks clips the catalog lists): never answered as "not found".
    """
    from vidrag.agent.citations import check_citations
    from vidrag.agent.extractive import answer_extractive
    from vidrag.agent.provenance import answer_parts, marked
    from vidrag.agent.sessions import SessionStore, Turn
    from vidrag.storage.errors import InputError
    from vidrag.tools.video_tools import VideoTools

    if not question or not question.strip():
        raise InputError("The question is empty; ask something about the videos.")
    began = time.perf_counter()
    store = SessionStore.for_library(library) if session else None
    history = store.load(session) if store and session else []
    on_step = (lambda step: stream({"type": "step", **step.to_dict()})) if stream else None
    tools = VideoTools(library, on_step=on_step)
    if llm is None:
        raw, mode = answer_extractive(tools, question, history=history, top_k=top_k), "extractive"
    else:
        from vidrag.agent.llm_agent import run_llm_agent

        raw, mode = run_llm_agent(tools, question, llm, history=history, stream=stream)
    if tools.failure is not None:  # a tool hit a broken backend: the answer would be "not found", a lie
        raise tools.failure
    checked = check_citations(raw, tools.ledger)
    parts = answer_parts(checked.answer, [entry.text for entry in tools.ledger.entries])
    result = Answer(
        text=checked.answer,
        outcome=outcome(checked.answer),
        parts=parts,  # which text is quoted from the videos (untrusted) and which is the answer's own
        answer_marked=marked(parts),
        citations=checked.citations,
        mode=mode,
        steps=list(tools.steps),
        removed_citations=checked.removed,
        seconds=round(time.perf_counter() - began, 3),
    )
    if store and session:
        cited = [citation.to_dict() for citation in result.citations]
        store.append(session, Turn(question=question, answer=result.text, citations=cited, mode=mode))
    return result


__all__ = ["Answer", "answer_question", "outcome"]
