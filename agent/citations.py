"""Citation checking: every `[video @ start–end]` in an answer must overlap a span a tool returned.

`check_citations` parses the tags an answer carries, keeps those that overlap an entry of this run's
`EvidenceLedger` (same video, overlapping time), attaches a quote, removes the others from the answer and
appends a note naming them, so a fabricated moment never reaches the user. The quote is what the answer
quoted before the tag (a speech sentence, a slide's lines) when the evidence of the cited span holds
those words, so a citation of a slide shows the slide; otherwise it is the evidence text (`quote_for`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from vidrag.agent.prompts import REMOVED_NOTE
from vidrag.storage.types import Citation
from vidrag.tools.video_tools import Evidence, EvidenceLedger

log = logging.getLogger(__name__)

_BRACKET = re.compile(r"\[([^\[\]]*@[^\[\]]*)\]")
_PART = re.compile(
    r"^\s*(?P<video>[^@]+?)\s*@\s*(?P<start>[0-9][0-9:.]*)\s*s?\s*(?:–|—|-|to)\s*(?P<end>[0-9][0-9:.]*)\s*s?\s*$"
)
_QUOTED = re.compile(r"\u201c([^\u201c\u201d]+)\u201d")
_KIND_ORDER = {"transcript": 0, "ocr": 1, "clip": 2, "caption": 3, "summary": 4, "cut": 5}
QUOTE_CHARS = 300


@dataclass
class CitationCheck:
    """The answer with bad tags removed, the kept citations, and the removed tags."""

    answer: str
    citations: list[Citation] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def parse_time(text: str) -> float:
    """Seconds from `ss`, `ss.s`, `mm:ss(.s)` or `h:mm:ss(.s)`.

    Raises:
        ValueError: not a time.
    """
    parts = text.strip().rstrip("s").split(":")
    if not parts or len(parts) > 3 or any(p == "" for p in parts):
        raise ValueError(f"not a time: {text!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def parse_citations(text: str) -> list[tuple[str, str, float, float]]:
    """Every citation in a text as (tag as written, video, start, end); several may share brackets."""
    found = []
    for bracket in _BRACKET.finditer(text):
        for part in bracket.group(1).split(";"):
            match = _PART.match(part)
            if not match:
                continue
            try:
                start, end = parse_time(match["start"]), parse_time(match["end"])
            except ValueError:
                continue
            found.append((bracket.group(0), match["video"].strip(), min(start, end), max(start, end)))
    return found


def resolve_video(name: str, ledger: EvidenceLedger) -> str | None:
    """The id of a video named in a citation, among the videos the tools returned (else None)."""
    seen = ledger.videos()
    key = name.strip().strip("'\"`")
    if key in seen:
        return seen[key]
    for video, video_id in seen.items():
        if key in (Path(video).stem, video_id) or (len(key) >= 6 and video_id.startswith(key)):
            return video_id
    return None


def quote_for(entries: list[Evidence], start: float, end: float) -> str:
    """The evidence text of a cited span: the entry that matches the span best, then speech inside it."""

    def iou(e: Evidence) -> float:
        union = max(e.end, end) - min(e.start, start)
        return max(0.0, min(e.end, end) - max(e.start, start)) / union if union > 0 else 1.0

    best = max(entries, key=lambda e: (round(iou(e), 2), -_KIND_ORDER.get(e.kind, 9)))
    inside = sorted(
        (
            e
            for e in entries
            if e is not best
            and e.kind == "transcript"
            and e.end > e.start
            and (min(e.end, end) - max(e.start, start)) / (e.end - e.start) >= 0.8
        ),
        key=lambda e: e.start,
    )
    texts: list[str] = []
    for entry in [best, *inside]:
        text = _quotable(entry)
        if text and not any(text in t or t in text for t in texts):
            texts.append(text)
    quote = " ".join(texts)
    return quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"


def quoted_before_tags(answer: str) -> dict[str, list[str]]:
    """The quotes (`“…”`) each citation tag follows: on the tag's line, after the previous tag."""
    quotes: dict[str, list[str]] = {}
    for line in answer.splitlines():
        after = 0
        for bracket in _BRACKET.finditer(line):
            quotes.setdefault(bracket.group(0), _QUOTED.findall(line[after : bracket.start()]))
            after = bracket.end()
    return quotes


def answer_quote(quoted: list[str], entries: list[Evidence]) -> str | None:
    """The answer's own quotes of a span joined by ` · `, when every one of them is in the span's
    evidence (words, case and spacing folded, a closing full stop aside); else None."""
    evidence = [_folded(entry.text) for entry in entries]
    if not quoted or not all(any(_folded(text) in seen for seen in evidence) for text in quoted):
        return None
    quote = " \u00b7 ".join(text.strip() for text in quoted)
    return quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"


def _folded(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".?! ")


def _quotable(entry: Evidence) -> str:
    """What a citation of an entry quotes: for a clip a search returned, what it says (its evidence's
    speech field, never text parsed back); else the text the tool showed."""
    if entry.clip is not None and entry.clip.transcript.strip():
        return entry.clip.transcript.strip()
    return entry.text.strip()


def check_citations(answer: str, ledger: EvidenceLedger) -> CitationCheck:
    """Keep the citations that overlap a span a tool returned this run; remove the rest and say so."""
    kept: dict[tuple[str, float, float], Citation] = {}
    bad_tags: list[str] = []
    quoted = quoted_before_tags(answer)
    for tag, video, start, end in parse_citations(answer):
        video_id = resolve_video(video, ledger)
        entries = ledger.overlapping(video_id, start, end) if video_id else []
        if not video_id or not entries:
            if tag not in bad_tags:
                bad_tags.append(tag)
            continue
        quote = answer_quote(quoted.get(tag, []), entries) or quote_for(entries, start, end)
        kept.setdefault((video_id, start, end), Citation(entries[0].video, video_id, start, end, quote))
    cleaned = answer
    for tag in bad_tags:
        log.info("removing citation %s: no tool returned an overlapping span", tag)
        cleaned = cleaned.replace(tag, "")
    if bad_tags:
        cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
        cleaned += "\n\n" + REMOVED_NOTE.format(count=len(bad_tags), tags=", ".join(bad_tags))
    return CitationCheck(cleaned, list(kept.values()), bad_tags)
