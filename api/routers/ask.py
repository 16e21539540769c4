"""Ask: a question answered by the agent with cited moments, as JSON or as server-sent events.

With `stream: true` the response is `text/event-stream`: `step` events while the agent works
(tool calls), `token` events as the answer is written, then one `answer` event with the full answer
and citations (or one `error` event). Every event's data is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from vidrag.agent.answer import Answer, Answerer
from vidrag.api.routers import LibraryDep, SettingsDep, describe_error
from vidrag.api.schemas import AnswerPartOut, AskIn, AskOut, CitationOut, ErrorOut
from vidrag.api.wiring import make_llm

if TYPE_CHECKING:
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)
router = APIRouter(tags=["ask"])
_EVENT_TYPES = ("step", "token")
_Posted = (
    tuple[Literal["event"], object]
    | tuple[Literal["done"], "Answer | Mapping[str, object]"]
    | tuple[Literal["error"], Exception]
)
"""What the answering thread hands the event stream: an agent event, the answer, or the error it raised."""


def _answerer(request: Request) -> Answerer:
    answer: Answerer | None = request.app.state.answer
    if answer is not None:
        return answer
    try:
        from vidrag.agent import answer_question
    except ImportError as err:
        raise HTTPException(503, "agent unavailable") from err
    return answer_question


@router.post(
    "/ask",
    response_model=AskOut,
    responses={200: {"content": {"text/event-stream": {}}}, **{c: {"model": ErrorOut} for c in (404, 422, 503)}},
    summary="Answer a question with cited moments (JSON, or server-sent events with stream: true)",
)
async def ask(body: AskIn, request: Request, library: LibraryDep, settings: SettingsDep) -> AskOut | StreamingResponse:
    """Run the agent on a question; `session_id` keeps a conversation going."""
    answer = _answerer(request)
    call: dict[str, object] = {"llm": make_llm(settings), "session": body.session_id}
    if body.top_k is not None:
        call["top_k"] = body.top_k
    if not body.stream:
        result = await run_in_threadpool(answer, library, body.question, stream=None, **call)
        return answer_out(result, body.session_id)
    events = _stream(answer, library, body.question, call, body.session_id)
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def _stream(
    answer: Answerer, library: Library, question: str, call: dict[str, object], session_id: str | None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[_Posted] = asyncio.Queue()

    def post(item: _Posted) -> None:
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, item)
        except RuntimeError:  # the client went away and the loop closed
            pass

    def run() -> None:
        try:
            post(("done", answer(library, question, stream=lambda event: post(("event", event)), **call)))
        except Exception as err:  # noqa: BLE001 - reported to the client as an error event
            post(("error", err))

    worker = loop.run_in_executor(None, run)
    while True:
        item = await inbox.get()
        if item[0] == "event":
            value = item[1]
            event = value if isinstance(value, dict) else {"type": "step", "text": str(value)}
            if event.get("type") == "token":  # the agent sends "delta"; "text" is the API's field
                event = {**event, "text": str(event.get("text", event.get("delta", "")))}
            if event.get("type") in _EVENT_TYPES:
                yield sse(event["type"], event)
        elif item[0] == "done":
            yield sse("answer", answer_out(item[1], session_id).model_dump())
            break
        else:
            status, body = describe_error(item[1])
            if status == 500:
                log.error("the agent failed", exc_info=item[1])
            yield sse("error", {**body, "status": status})
            break
    await worker


def sse(event: str, data: object) -> str:
    """One server-sent event with a JSON data line."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def answer_out(result: Answer | Mapping[str, object], session_id: str | None) -> AskOut:
    """The public form of the agent's answer (an `Answer`, or a stand-in answerer's dict of one), each
    citation with a link that plays its span."""
    answer = result if isinstance(result, Answer) else Answer.from_dict(result)
    citations = [
        CitationOut(
            video=c.video,
            video_id=c.video_id,
            name=Path(c.video).name,
            start=float(c.start),
            end=float(c.end),
            quote=c.quote,
            media_url=f"/videos/{c.video_id}/media#t={float(c.start):.2f},{float(c.end):.2f}",
        )
        for c in answer.citations
    ]
    return AskOut(
        answer=answer.text,
        parts=[AnswerPartOut(text=part.text, source=part.source) for part in answer.parts],
        answer_marked=answer.answer_marked,
        citations=citations,
        outcome=answer.outcome,
        mode=answer.mode,
        steps=json.loads(json.dumps([step.to_dict() for step in answer.steps], default=str)),
        session_id=session_id,
        seconds=answer.seconds,
        removed_citations=answer.removed_citations,
    )
