"""The one caption prompt every vision-language backend uses, and the parser of its answers.

The prompt asks for what people search a video library for: who and what is on screen, what
happens, where, and any on-screen text copied verbatim, in a fixed labelled format. The parser is
forgiving: it drops `<think>` blocks, accepts markdown bold, bullets, other label spellings and
extra labels, keeps a label's text across lines, and falls back to the whole answer as the summary
when no label is found. The raw answer is always kept.
"""

from __future__ import annotations

import re

from vidrag.indexing.captioners.base import Caption

FIELDS: tuple[str, ...] = ("people", "objects", "actions", "setting", "on_screen_text", "summary")
"""Parsed caption fields, in the order the prompt asks for them."""

LABELS: dict[str, str] = {
    "people": "PEOPLE",
    "objects": "OBJECTS",
    "actions": "ACTIONS",
    "setting": "SETTING",
    "on_screen_text": "ON-SCREEN TEXT",
    "summary": "SUMMARY",
}

CAPTION_PROMPT = """These are frames of one short video clip, in time order.
Describe the clip so that someone searching a video library can find it.
Answer in exactly this format, one label per line, with "none" where nothing applies:

PEOPLE: who is on screen (number, appearance, clothing, role; names only if shown or said)
OBJECTS: notable objects, animals, vehicles, products, logos
ACTIONS: what happens, in order, including movement and changes between frames
SETTING: where and when (indoor/outdoor, kind of place, time of day, weather)
ON-SCREEN TEXT: every piece of readable text copied verbatim in double quotes, or none
SUMMARY: one or two plain sentences describing the clip

Describe only what is visible. Do not guess names, brands or text you cannot read."""

ASK_TEMPLATE = """These are frames of a video from {start:.1f} s to {end:.1f} s, in time order.
Answer the question from what is visible in the frames. If the frames do not show the answer, say so.
Question: {question}"""

_ALIASES: dict[str, str] = {
    "people": "people", "person": "people", "persons": "people", "who": "people",
    "characters": "people", "subjects": "people",
    "objects": "objects", "object": "objects", "things": "objects", "items": "objects",
    "actions": "actions", "action": "actions", "activity": "actions", "activities": "actions",
    "events": "actions", "what happens": "actions",
    "setting": "setting", "scene": "setting", "location": "setting", "place": "setting",
    "environment": "setting", "where": "setting",
    "on-screen text": "on_screen_text", "on screen text": "on_screen_text",
    "onscreen text": "on_screen_text", "on_screen_text": "on_screen_text", "text": "on_screen_text",
    "visible text": "on_screen_text", "text on screen": "on_screen_text",
    "summary": "summary", "description": "summary", "caption": "summary", "overall": "summary",
}  # fmt: skip

_EMPTY = {"", "none", "n/a", "na", "nothing", "no", "none visible", "not visible", "-", "unknown"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
# A label line: optional bullet/heading marks, optional bold, 1-4 words, a colon, then the value.
_LABEL = re.compile(
    r"^\s*(?:[-*\u2022#>]+\s*)?(?:\*\*|__)?\s*([A-Za-z][A-Za-z _\-/]{0,40}?)\s*(?:\*\*|__)?\s*:"
    r"\s*(?:\*\*|__)?\s*(.*)$"
)


def caption_prompt() -> str:
    """The caption prompt text."""
    return CAPTION_PROMPT


def ask_prompt(question: str, start: float, end: float) -> str:
    """The prompt for a question about the frames of [start, end]."""
    return ASK_TEMPLATE.format(question=question.strip(), start=start, end=end)


def strip_thinking(text: str) -> str:
    """Remove `<think>...</think>` blocks; an unclosed `<think>` drops everything after it
    unless nothing would remain, in which case only the tag is dropped."""
    text = _THINK.sub("", text)
    if "<think>" in text.lower():
        head = re.split(r"<think>", text, flags=re.IGNORECASE)[0]
        text = head if head.strip() else re.sub(r"</?think>", "", text, flags=re.IGNORECASE)
    return re.sub(r"</think>", "", text, flags=re.IGNORECASE).strip()


def _clean_value(value: str) -> str:
    value = re.sub(r"\s+", " ", value.replace("**", "")).strip().strip("-\u2022 ").strip()
    return "" if value.lower().rstrip(".") in _EMPTY else value


def _label_of(line: str) -> tuple[str | None, str] | None:
    """(field or None for an unknown label, value) when the line starts with a label."""
    match = _LABEL.match(line)
    if not match:
        return None
    name = re.sub(r"[\s_]+", " ", match.group(1).strip().lower())
    field = _ALIASES.get(name) or _ALIASES.get(name.replace(" ", "-", 1))
    if field is None and (len(name.split()) > 3 or not match.group(1)[:1].isupper()):
        return None  # long or lower-case "note: ..." inside a value is prose, not a label
    return field, match.group(2)


def parse_caption(raw: str) -> dict[str, str]:
    """Parse a labelled answer into `FIELDS`; unknown labels end a field and are dropped.

    With no known label at all, the whole (thinking-free) answer becomes the summary.
    """
    text = strip_thinking(raw)
    parts: dict[str, list[str]] = {}
    current: str | None = None
    seen_label = False
    for line in text.splitlines():
        labelled = _label_of(line)
        if labelled is not None:
            current, value = labelled
            seen_label = seen_label or current is not None
            if current is not None:
                parts.setdefault(current, []).append(value)
        elif current is not None:
            parts[current].append(line)
    if not seen_label:
        return {name: "" for name in FIELDS} | {"summary": _clean_value(text)}
    return {name: _clean_value(" ".join(parts.get(name, []))) for name in FIELDS}


def caption_text(fields: dict[str, str]) -> str:
    """The display/embedding text of parsed fields: summary first, then each non-empty field."""
    lines = [fields["summary"]] if fields.get("summary") else []
    for name in FIELDS[:-1]:
        if fields.get(name):
            lines.append(f"{LABELS[name].capitalize()}: {fields[name]}")
    return "\n".join(lines)


def to_caption(raw: str) -> Caption:
    """A `Caption` from a model's raw answer: parsed fields, composed text, raw kept."""
    fields = parse_caption(raw)
    text = caption_text(fields) or strip_thinking(raw)
    return Caption(text=text, fields=fields, raw=raw)
