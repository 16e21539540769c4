"""The shape of a no-LLM answer: one lead quote that answers the question, then supporting quotes.

Every line quoted is a whole speech sentence or a whole on-screen line, marked as such and cited.
Lines are ranked by their similarity to the question, plus a little for sharing its words and for
having the shape its question word asks for (`question_types`). The best sentence or on-screen line
picks the moment; in that moment the lead is the best sentence when it has the asked-for shape and the slide has not;
else the slide (its lines in reading order) when the slide or one of its lines ranks within
`SCREEN_SLACK` of the best sentence or states what that sentence says (a shared word) — slides are
exact where a small speech model mishears ("freeway handshake" under a slide reading "The Three-Way
Handshake") — otherwise the best sentence; the other one follows as support (under a leading slide,
the sentence that repeats its bullet and the moment's best sentence, when they differ: the name a
"which scientist" asks for is often said beside the sentence that echoes the slide; when they are one,
the next sentence if it ranks within `OTHER_MOMENT` of it), then the best line of another moment if
it ranks close to the top. The clip's caption (a generic description of the
picture) is never quoted.
"""

from __future__ import annotations

from typing import TypedDict

from vidrag.agent.provenance import quote_safe
from vidrag.agent.question_types import has_shape, question_kind
from vidrag.indexing.embed import tokens
from vidrag.tools.video_tools import cite_tag, unwrap

SHAPE_BONUS = 0.08
"""Added to a line shaped like the asked-for answer (a reason for "why", a time for "when"…)."""
WORD_BONUS = 0.10
"""Times the share of the question's content words the line contains (rarer words weigh more)."""
SCREEN_SLACK = 0.05
"""The slide leads when it, or one of its lines, ranks at most this far below the moment's best sentence."""
CONTEXT_PENALTY = 0.05
"""Taken off a sentence from around the moment (`context`: not in a read clip): it may answer,
but it may also belong to the neighbouring topic."""
CORROBORATION = 0.5
"""A moment ranks by its best line plus this times its best line of the other kind (speech or screen)."""
ECHO_BONUS = 0.5
"""Times the share of the best on-screen line's words that a supporting sentence repeats."""
OTHER_MOMENT = 0.05
"""Another moment is quoted too when its best line ranks at most this far below the lead's."""
SHORT_SLIDE = 4
"""A slide of at most this many lines (a heading and three bullets) leads when it shares a word with
the moment's best sentence; a longer one only when it ranks as high."""


class Quotable(TypedDict, total=False):
    """A line the no-LLM answer may quote, as the plan reads it (`vidrag.agent.extractive`): a speech
    sentence (`kind` "speech"), an on-screen line ("screen") or a slide ("slide", its `lines` in reading
    order), with its span, `clip` (which read moment), `score` (similarity to the question) and, once
    ranked, `rank`. `context` marks a sentence read around the moment, `running` a running header,
    `edge` a sentence mostly spoken outside the read clip (quotable; not the clip's evidence of relevance)."""

    kind: str
    clip: int
    video: str
    video_id: str
    start: float
    end: float
    cite_as: str
    text: str
    lines: list[str]
    order: int
    score: float
    rank: float
    context: bool
    running: bool
    edge: bool


def compose(question: str, candidates: list[Quotable]) -> str:
    """The answer text: a lead quote with its citation, then `- speech:` / `- on screen:` quotes.

    Candidates are speech sentences (`kind` "speech"), single on-screen lines ("screen") and whole
    slides ("slide", with their `lines` in reading order), each with a `score` (similarity to the
    question), `clip` (which read moment), `video`, `start` and `end`; sentences read around
    the moment carry `context` and never choose it.
    """
    ranked = rank_lines(question, candidates)
    lines = [c for c in ranked if c["kind"] != "slide" and not c.get("context")]
    if not lines:
        return ""
    clip = _best_moment(ranked)
    top = next(c for c in lines if c["clip"] == clip)
    moment = [c for c in ranked if c["clip"] == clip]
    speech = [c for c in moment if c["kind"] == "speech"]
    slide = next((c for c in moment if c["kind"] == "slide"), None)
    lead = speech[0] if speech else slide or top
    if slide and (not speech or _screen_leads(question, moment, slide, speech[0])):
        lead = slide
    if lead is slide:
        support = [_echo(question, moment, slide, speech)] if speech else []
        if speech and speech[0] is not support[0]:
            support.append(speech[0])  # the moment's best sentence, when it is not the echo
        elif len(speech) > 1 and speech[1]["rank"] >= speech[0]["rank"] - OTHER_MOMENT:
            support.append(speech[1])  # the echo is the best sentence: the next one, when as close
    else:
        support = [slide] if slide else []
    quoted = {text for item in [lead, *support] for text in item.get("lines", [item["text"]])}
    other = next((c for c in lines if c["clip"] != top["clip"] and c["text"] not in quoted), None)
    if other is not None and other["rank"] >= lines[0]["rank"] - OTHER_MOMENT:
        support.append(other)
    verb = "says" if lead["kind"] == "speech" else "shows on screen"
    text = f"{lead['video']} {verb}: {_quotes(lead)} {cite_tag(lead['video'], lead['start'], lead['end'])}"
    return text + "".join(f"\n- {_bullet(item)}" for item in support)


def _best_moment(ranked: list[Quotable]) -> int:
    """The moment (`clip`) whose evidence ranks best: its best line, plus `CORROBORATION` times the
    best line of the other kind (a sentence for a slide, a slide or screen line for a sentence). A
    sentence alone can be close to the question in words yet belong to the next topic ("when a feature
    is finished, you merge it" for why each feature gets a branch) while its own slide reads "Merging"."""
    best: dict[int, dict[str, float]] = {}
    for c in ranked:
        if not c.get("context"):
            side = "speech" if c["kind"] == "speech" else "screen"
            best.setdefault(c["clip"], {}).setdefault(side, c["rank"])

    def score(clip: int) -> float:
        ranks = sorted(best[clip].values(), reverse=True)
        return ranks[0] + CORROBORATION * sum(ranks[1:])

    return max(best, key=score)


def _echo(question: str, moment: list[Quotable], slide: Quotable, speech: list[Quotable]) -> Quotable:
    """The sentence that says what the slide's best bullet says (shares its rarer words, `ECHO_BONUS`),
    else the best sentence: under a slide reading "Dough doubles in size", the spoken "it should have
    doubled in size" rather than "put the dough in a covered bowl". The best bullet is the one holding
    most of the question's rarer words ("Write a short message" for what a commit message should
    explain, where every line says "commit"). The heading (the slide's first line) names the topic,
    which every sentence of the moment is about, so it is not echoed."""
    heading = slide["lines"][0] if slide.get("lines") else None
    bullets = [c for c in moment if c["kind"] == "screen" and c["text"] != heading]
    if not bullets:
        return speech[0]
    words = {id(c): set(tokens(c["text"])) for c in moment}
    asked = _word_weights(question, list(words.values()))
    held = {id(c): sum(asked[w] for w in words[id(c)] & asked.keys()) for c in bullets}
    shown = max(bullets, key=lambda c: (held[id(c)], c["rank"]))  # the bullet with the question's rarer words
    weights = _word_weights(shown["text"], list(words.values()))
    total = sum(weights.values()) or 1.0
    echo = {id(c): sum(weights[w] for w in words[id(c)] & weights.keys()) / total for c in speech}
    return max(speech, key=lambda c: c["rank"] + ECHO_BONUS * echo[id(c)])


def _screen_leads(question: str, moment: list[Quotable], slide: Quotable, sentence: Quotable) -> bool:
    """Whether the slide should lead instead of the moment's best sentence.

    Never when the sentence has the shape the question asks for and the slide has not (a "why" leads
    with the sentence giving the reason); otherwise when the slide ranks as high (within
    `SCREEN_SLACK`) or states the same thing as the sentence (shares a content word with it).
    """
    kind = question_kind(question)
    listed = kind == "step" and len(slide.get("lines", ())) >= 2  # a list of lines reads as steps
    if has_shape(kind, sentence["text"]) and not (listed or has_shape(kind, slide["text"])):
        return False
    shown = max(c["rank"] for c in moment if c["kind"] != "speech")
    if shown >= sentence["rank"] - SCREEN_SLACK:
        return True
    # a short slide that shares a word with the sentence states the same thing; a long one (a slide held
    # over several clips, six lines of bullets) shares a word with nearly every sentence said under it
    short = len(slide.get("lines", ())) <= SHORT_SLIDE
    return short and bool(set(tokens(slide["text"])) & set(tokens(sentence["text"])))


def rank_lines(question: str, candidates: list[Quotable]) -> list[Quotable]:
    """Distinct lines, best first, each with its `rank` (similarity plus word and shape bonuses)."""
    kind = question_kind(question)
    texts = [unwrap(c["text"]).strip() for c in candidates]
    words = [set(tokens(text)) for text in texts]
    weights = _word_weights(question, words)
    total = sum(weights.values()) or 1.0
    unique: dict[tuple[str, str, int], Quotable] = {}
    for c, text, line_words in zip(candidates, texts, words):
        if not text:
            continue
        shared = sum(weights[word] for word in line_words & weights.keys()) / total
        rank = c["score"] + WORD_BONUS * shared + (SHAPE_BONUS if has_shape(kind, text) else 0.0)
        rank -= CONTEXT_PENALTY if c.get("context") else 0.0
        key = (c["kind"], text, c["clip"] if c["kind"] == "slide" else -1)
        if key not in unique or unique[key]["rank"] < rank:
            unique[key] = {**c, "text": text, "rank": rank}
    return sorted(unique.values(), key=lambda c: -c["rank"])


def _word_weights(question: str, lines: list[set[str]]) -> dict[str, float]:
    """Each content word of the question, weighted by how few of the lines contain it: a word in
    every line (the video's topic, "git" in a Git lecture) tells the lines apart no more than none."""
    words = set(tokens(question))
    count = max(len(lines), 1)
    return {word: 1.0 - sum(word in line for line in lines) / count for word in words}


def _quotes(line: Quotable) -> str:
    """A speech sentence as one quote (ending in a full stop), a slide as its lines' quotes."""
    if line["kind"] == "slide":
        return " \u00b7 ".join(f"\u201c{quote_safe(text)}\u201d" for text in line["lines"])
    text = quote_safe(line["text"])
    if line["kind"] == "speech" and not text.endswith((".", "?", "!")):
        text += "."
    return f"\u201c{text}\u201d"


def _bullet(line: Quotable) -> str:
    """`speech: “…” [tag]` or `on screen: “…” · “…” [tag]`."""
    label = "speech" if line["kind"] == "speech" else "on screen"
    return f"{label}: {_quotes(line)} {cite_tag(line['video'], line['start'], line['end'])}"
