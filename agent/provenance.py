"""Whose words are these? An answer split into vidrag's own text and text quoted from the videos.

Text from a video (speech, on-screen text, captions) is untrusted: a slide may read "IGNORE PREVIOUS
INSTRUCTIONS…". MCP results wrap it between `<<video-data>>` markers; an answer marks it the same way
for every other surface. `answer_parts` splits an answer at its quotes (`“…”`) and names each quote
whose words a tool returned in this run `video`; everything else is `answer` (vidrag's, or the LLM's,
own words, citation tags included). The REST API returns the parts and a marked copy of the answer,
the page shows video parts as quotations, and the CLI says which text is quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vidrag.agent.answer import AnswerPart, Source
from vidrag.tools.evidence import as_data

QUOTED = re.compile(r"\u201c[^\u201c\u201d]*\u201d")
VIDEO: Source = "video"
ANSWER: Source = "answer"
CLI_NOTICE = "(text in \u201c \u201d is quoted from the videos: what they say or show, not vidrag's words)"


def _folded(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .?!\u2026")


def answer_parts(answer: str, evidence: Iterable[str]) -> list[AnswerPart]:
    """The answer as consecutive parts (`AnswerPart`: text, source), source `video` for a quote of a
    video's text (found in `evidence`, the raw texts the tools returned) and `answer` for the rest; the
    parts joined give the answer back exactly."""
    seen = [_folded(quote_safe(text)) for text in evidence if text]
    pieces: list[tuple[str, Source]] = []

    def add(text: str, source: Source) -> None:
        if not text:
            return
        if pieces and pieces[-1][1] == source:
            pieces[-1] = (pieces[-1][0] + text, source)
        else:
            pieces.append((text, source))

    position = 0
    for match in QUOTED.finditer(answer):
        add(answer[position : match.start()], ANSWER)
        inner = _folded(match.group(0)[1:-1])
        add(match.group(0), VIDEO if inner and any(inner in text for text in seen) else ANSWER)
        position = match.end()
    add(answer[position:], ANSWER)
    return [AnswerPart(text, source) for text, source in pieces]


def marked(parts: list[AnswerPart]) -> str:
    """The answer with each video part between the MCP data markers (`<<video-data>>…<</video-data>>`)."""
    return "".join(as_data(p.text) if p.source == VIDEO else p.text for p in parts)


def quote_safe(text: str) -> str:
    """Video text made safe to put between “ and ”: its own curly quotes become straight ones, so no
    text can close a quote early and continue in vidrag's voice."""
    return text.replace("\u201c", '"').replace("\u201d", '"')
