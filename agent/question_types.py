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
_PEOPLE = (
    r"scientists?|chemists?|physicists?|biologists?|researchers?|inventors?|engineers?|architects?|"
    r"authors?|writers?|painters?|artists?|composers?|founders?|leaders?|presidents?|kings?|queens?|"
    r"person|people|man|woman|speakers?|presenters?|managers?|directors?|doctors?|colleagues?"
)
"""Nouns for people: "Which scientist…", "What famous engineer…" ask for a name, as "who" does."""
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
    (re.compile(rf"^\s*(who|whom|whose)\b|^\s*(?:which|what) (?:\w+ )?(?:{_PEOPLE})\b", re.I), "person"),
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


_LENGTH = (
    r"met(?:re|er)s?|kilomet(?:re|er)s?|centimet(?:re|er)s?|millimet(?:re|er)s?|km|cm|mm|miles?|"
    r"inch(?:es)?|feet|foot|yards?|light[- ]years?|astronomical units?"
)
_DURATION = (  # a span of time, or the dates or times it runs from and to
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)|millenni\w+|ages|overnight|"
    rf"{_MONTHS}|\d{{1,2}}(?::\d\d)?\s?(?:am|pm)"
)
_AMOUNT = rf"\d|\b(?:{_NUMBER_WORDS}|dozens?|several|few|single|no)\b"


def _what_is(nouns: str) -> str:
    """The noun form of a measure question: "What is the (oven) temperature…", "What's the depth of…"."""
    return rf"\bwhat(?:'s| is| are| was| were| will be) (?:the |a |an |its |their )?(?:[\w'-]+ ){{0,3}}?(?:{nouns})\b"


# (what a question asks to be measured, the words that state such a measure). A question that asks
# for a measure is answered only by a line that states one: "how hot" by degrees, "how fast" by a
# speed, "how far" by a distance. A lecture about Mercury that never gives its temperature is
# related to "How hot is the surface of Mercury?", not an answer to it.
_MEASURE_TABLE: list[tuple[str, str, str, str]] = [
    # (the measure, how a question asks for it, the nouns of "what is the … <noun>", how a line states it)
    (
        "a temperature",
        r"^\s*how (?:hot|cold|warm)\b|\bwhat temperature\b",
        "temperature|boiling point|melting point",
        r"\bdegrees?\b|°|\b(?:celsius|fahrenheit|kelvin)\b|\bboil|\bfreez",
    ),
    (
        "a speed",
        r"^\s*how (?:fast|quickly)\b|\bwhat speed\b",
        "speed|velocity",
        r"\bper (?:second|minute|hour)\b|\b(?:km|m)/h\b|\bmph\b|\bknots?\b|/s\b|\binstant(?:ly)?\b|\bimmediately\b|"
        rf"\b(?:{_LENGTH}) (?:an|a|per) (?:hour|second|minute)\b|\bspeed of\b",
    ),
    (
        "a cost",
        r"^\s*how much\b.*\b(?:cost|costs|price|pay|paid|spend|spent|charge|budget)\b",
        "cost|price|budget",
        r"[$€£¥]|\b(?:dollars?|euros?|pounds?|cents?|pence|yen|francs?|budget|free)\b",
    ),
    (
        "a distance or size",
        r"^\s*how (?:far|deep|tall|high|wide|big|large|small|thick)\b",
        "distance|height|depth|width|size|diameter|thickness",
        rf"\b(?:{_LENGTH})\b|\b(?:times|bigger|larger|smaller|wider|taller|deeper|higher|"
        r"size of|diameter|across|fits? inside|as (?:big|large|wide|tall) as|so (?:big|large|wide|tall))\b",
    ),
    (
        "a weight",
        r"^\s*how heavy\b|\bhow much does .* weigh\b",
        "weight|mass",
        r"\b(?:grams?|kilograms?|kg|tonnes?|tons?|pounds?|lbs?|ounces?|times|heavier|lighter|mass)\b",
    ),
    ("an age", r"^\s*how old\b", "age", rf"\b(?:{_DURATION}|ago|since|founded|built|born)\b|\b\d{{4}}\b"),
    (
        "how often",
        r"^\s*how often\b|\bhow many times\b",
        "",
        r"\b(?:every|each|times|once|twice|daily|weekly|monthly|yearly|annually|always|never|"
        r"per|a (?:day|week|month|year))\b|\d",
    ),
    (
        "a duration or length",
        r"^\s*how long\b",
        "duration|length|time",
        rf"\b(?:{_DURATION}|{_LENGTH}|until|forever|briefly)\b",
    ),
    (
        "a number",
        r"^\s*how (?:many|much)\b",
        "",
        _AMOUNT + r"|\b(?:half|double[sd]?|twice|percent|most|all|none|both|either|neither|each|every)\b",
    ),
]
MEASURES: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    (name, re.compile(asks + (f"|{_what_is(nouns)}" if nouns else ""), re.I), re.compile(states, re.I))
    for name, asks, nouns, states in _MEASURE_TABLE
]


def asked_measure(question: str) -> tuple[str, re.Pattern[str]] | None:
    """(what the question asks to be measured, the pattern of a line that states it), or None."""
    for name, asks, states in MEASURES:
        if asks.search(question):
            return name, states
    return None


_YES_NO = re.compile(r"^\s*(?:can|could|does|do|did|is|are|was|were|should|will|would|has|have|had)\b", re.I)
YES_NO_SHARE = 0.5
"""A yes/no question is answered only when the lines quoted from the lead's video hold at least this
share of its content words (stemmed): the lecture's own statement of the thing asked. "Does Mars have
liquid water?" meets the rocky-planets slide, which names Mars and nothing else the question asks."""


def is_yes_no(question: str) -> bool:
    """Whether the question asks for a yes or no ("Does Mars have liquid water?")."""
    return bool(_YES_NO.search(question))
