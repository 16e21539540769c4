"""What kind of answer a question asks for, and whether a sentence or slide line has that shape.

The no-LLM answerer quotes, it never writes: so among the lines that are about the question it picks
the one shaped like the answer — a reason for "why", a step or method for "how", an amount for "how
many/much/long…", a time or condition for "when", a name for "who", a definition for "what is X". The
patterns are English function words and number forms, not words of any particular video.
"""

from __future__ import annotations

import re

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|hundreds?|thousands?|millions?|half|double[sd]?|twice|dozens?"
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)

KINDS: dict[str, re.Pattern[str]] = {
    "reason": re.compile(
        r"\b(because|since|so that|due to|reason|therefore|thus|as a result|in order to|otherwise|"
        r"causes?|caused|gives?|makes?|means|allows?|protects?|traps?|too \w+)\b|\bwhich \w+s\b",
        re.I,
    ),
    "step": re.compile(r"\b(first|then|next|finally|after|by \w+ing|using|use|with|until|step|steps)\b", re.I),
    "amount": re.compile(
        rf"\d|\b({_NUMBER_WORDS}|percent|degrees?|minutes?|hours?|seconds?|days?|"
        r"weeks?|years?|centuries|meters?|centimet\w+|kilo\w+|times|per)\b",
        re.I,
    ),
    "time": re.compile(
        rf"\b\d{{1,2}}(:\d\d)?\s?(am|pm)\b|\b\d{{4}}\b|\b({_MONTHS}|today|tomorrow|"
        r"morning|afternoon|evening|night|week|month|year|o'clock|when|whenever|after|"
        r"before|until|once|as soon as|during|while|if|below|above)\b",
        re.I,
    ),
    "person": re.compile(r"(?<=\w )[A-Z][a-z]{2,}\b|^[A-Z][a-z]+:|\b(who|team|manager)\b"),
    "definition": re.compile(
        r"\b(is|are|was|were|means|called|consists? of|made (?:mostly )?of|"
        r"contains?|records?|stores?)\b|:",
        re.I,
    ),
    "place": re.compile(r"\b(in|on|at|inside|under|near|beside|between|into|onto|center|top|bottom)\b", re.I),
}

_QUESTION_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\s*(why\b|how come\b|what (?:causes|makes|gives)\b|for what reason\b)", re.I), "reason"),
    (
        re.compile(r"^\s*how (?:much|many|long|far|deep|hot|cold|big|large|fast|often|old|tall|heavy|high)\b", re.I),
        "amount",
    ),
    (re.compile(r"^\s*(when\b|what (?:time|date|day)\b|which (?:day|date|year)\b)", re.I), "time"),
    (re.compile(r"^\s*(who|whom|whose)\b", re.I), "person"),
    (re.compile(r"^\s*where\b", re.I), "place"),
    (re.compile(r"^\s*how\b", re.I), "step"),
    (
        re.compile(r"^\s*(what|who) (?:is|are|was|were)(?: an?| the)? \w+\??$|^\s*what does .* mean\b", re.I),
        "definition",
    ),
]


def question_kind(question: str) -> str | None:
    """The kind of answer a question asks for ("reason", "step", "amount", "time", "person",
    "place", "definition"), or None (other "what/which" questions, yes/no questions, requests)."""
    for pattern, kind in _QUESTION_KINDS:
        if pattern.search(question):
            return kind
    return None


def has_shape(kind: str | None, text: str) -> bool:
    """Whether `text` looks like an answer of that kind (a reason clause, a number, a date…)."""
    return kind is not None and bool(KINDS[kind].search(text))
