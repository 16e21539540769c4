"""The no-LLM answer path: a fixed plan over the same tools, answering with quoted, cited sentences.

Plan: search the clips, read the three with the sentence most like the question (their whole
sentences and on-screen lines, split into the slides shown one after the other), and hand them to
`compose`, which quotes the line that answers the question (screen text where it states the fact, a
sentence of the asked-for kind) and then the supporting lines, each with its `[video @ start–end]`
tag. When the relevance is below `MIN_SIMILARITY` (calibrated on the sample library: relevant
questions score above it, unrelated ones below), it says the library does not contain the answer.
Library-wide questions go to `find_videos`; follow-ups such as "and after that?" continue from the
lead's video after its last cited span.
"""

from __future__ import annotations

import logging
import re

from vidrag.agent.citations import parse_citations
from vidrag.agent.compose import Quotable, compose, rank_lines
from vidrag.agent.prompts import NEVER_MENTIONED, NOT_FOUND, NOT_STATED
from vidrag.agent.provenance import QUOTED, quote_safe
from vidrag.agent.question_types import YES_NO_SHARE, asked_measure, is_yes_no
from vidrag.agent.sessions import Turn
from vidrag.indexing.embed import tokens
from vidrag.storage.types import CitationJson
from vidrag.tools.evidence import ClipEvidence, ToolError, defuse, running_lines
from vidrag.tools.video_tools import VideoTools, cite_tag, unwrap

log = logging.getLogger(__name__)

MIN_SIMILARITY = 0.335
"""Relevance below which nothing relevant was found: the MiniLM cosine of the question with the speech
and screen text of the best of the search's first clips, counted only when that evidence shares a
content word with the question (see `relevance`). Measured on the sample library with Whisper base
(benchmarks/calibrate_relevance.py, 2 cores): the 63 answerable questions score from 0.369; of the 48
`UNRELATED_QUESTIONS` all but one at most 0.323. Since hybrid search scores each clip alone
(2026-12-05), "What is the boiling point of water on a mountain?" reads the water cycle's evaporation
clip first and scores 0.384 (0.301 before): a question in that lecture's field, answered with the
evaporation slide. Near misses (`samples/data/near_miss.jsonl`) score as high as answerable
paraphrases; `tools.absence` refuses those whose key word the library never says."""
MIN_VIDEO_SIMILARITY = 0.25
VIDEO_MARGIN = 0.15
READ = 3
SEARCH_K = 8
FOLLOW_WINDOW = 25.0
CONTEXT_S = 10.0
SLIDE_LINES = 5
"""A slide is quoted as at most this many lines: its heading and the bullets closest to the question."""
RELATED = 2

_LIBRARY_WIDE = re.compile(
    r"\bwhich videos?\b|\bwhat videos?\b|\bvideos? (?:cover|about|talk|discuss)|"
    r"\bwhat is (?:this|that|the) video about\b|\bwhat(?:'s| is) in the library\b",
    re.I,
)
_AFTER = re.compile(r"\b(after that|afterwards|what next|then what|and then|next\??$|what comes next)\b", re.I)
_BEFORE = re.compile(r"\b(before that|earlier|previously|what came before)\b", re.I)
_SHORT = 5


def answer_extractive(tools: VideoTools, question: str, *, history: list[Turn] | None = None, top_k: int = 5) -> str:
    """An answer built only from tool results, with citation tags (checked later by the caller)."""
    history = history or []
    last = _last_citation(history)
    if last is not None and (_AFTER.search(question) or _BEFORE.search(question)):
        return _follow_on(tools, question, last, after=not _BEFORE.search(question))
    if _LIBRARY_WIDE.search(question):
        return _which_videos(tools, question, top_k)
    query = question
    if history and len(re.findall(r"\w+", question)) <= _SHORT:
        query = f"{history[-1]['question']} {question}"
    return _from_clips(tools, question, query, top_k)


def relevance(tools: VideoTools, query: str, top_k: int = 5) -> tuple[float, list[Quotable]]:
    """How close the library's best moment is to `query`, with the lines read to answer it.

    Relevance is the similarity of the best of the search's first clips (speech and screen text), and 0
    when no content word of the query (stopwords out, plurals folded) occurs in the lines read or the
    running headers of their videos ("website" in "Website Relaunch: Weekly Meeting"): MiniLM
    alone rates "How do I change a flat tyre?" as close to a line about folding dough (0.35) as
    paraphrased lecture questions are to their answers. A whole clip is about its topic, where one
    short line can be close by one word ("Droplets form clouds" for how hurricanes form: 0.49); so the
    clip's similarity separates the answerable questions from the first 38 unrelated ones by 0.068
    on the sample library (0.045 with the 10 added later), the mean of clip and line by 0.019. It is
    compared with `MIN_SIMILARITY` (benchmarks/calibrate_relevance.py measures both sides of it).
    """
    score, quotable, _ = _read(tools, query, top_k)
    return score, quotable


def _read(tools: VideoTools, query: str, top_k: int) -> tuple[float, list[Quotable], list[str]]:
    """`relevance`, with the query's key words that the library never says (`tools.absence`)."""
    candidates, clip_score, missing = gather(tools, query, top_k)
    evidence = {token for c in candidates if not c.get("edge") for token in tokens(c["text"])}
    quotable = [c for c in candidates if not c.get("running")]
    return (clip_score if evidence & set(tokens(query)) else 0.0), quotable, missing


def _from_clips(tools: VideoTools, question: str, query: str, top_k: int) -> str:
    score, candidates, missing = _read(tools, query, top_k)
    if not candidates or score < MIN_SIMILARITY:
        log.info("relevance %.3f < %.2f for %r", score, MIN_SIMILARITY, question)
        return (
            f"{NOT_FOUND}: no moment in the library's speech or on-screen text is close enough to "
            f"the question (relevance {score:.3f}, needed {MIN_SIMILARITY:.3f})."
        )
    if missing:
        return _never_mentioned(question, missing, candidates)
    slides = _slides(tools, question, candidates)
    candidates = _same_slide_same_moment(candidates + slides)
    top = rank_lines(question, [c for c in candidates if c["kind"] != "slide"])[0]
    answer = compose(question, candidates + _context(tools, question, top))
    unstated = _unstated(question, _lead_video_quotes(answer))
    if unstated:
        log.info("no line quoted for %r states %s", question, unstated)
        return f"{NOT_STATED} {unstated}.{_related(candidates)}"
    return answer


def _unstated(question: str, quoted: list[str]) -> str | None:
    """What the question asks for that none of the `quoted` lines states ("a temperature", "whether it
    is so"), or None: a measure needs a line that gives one (`question_types.MEASURES`), a yes or no the
    lines holding at least `YES_NO_SHARE` of the question's content words."""
    measure = asked_measure(question)
    if measure is not None:
        name, states = measure
        return None if any(states.search(line) for line in quoted) else name
    if is_yes_no(question):
        asked = set(tokens(question))
        held = {token for line in quoted for token in tokens(line)}
        if asked and len(asked & held) < YES_NO_SHARE * len(asked):
            return "whether it is so"
    return None


def _lead_video_quotes(answer: str) -> list[str]:
    """The quotes of an answer's lines from the lead's video (a line from another video is a
    neighbouring moment quoted in support, not where the answer is)."""
    tagged = [(line, {video for _, video, _, _ in parse_citations(line)}) for line in answer.split("\n")]
    lead = tagged[0][1] if tagged else set()
    return [
        quote.strip("\u201c\u201d")
        for line, videos in tagged
        if not lead or videos & lead
        for quote in QUOTED.findall(line)
    ]


def _never_mentioned(question: str, missing: list[str], candidates: list[Quotable]) -> str:
    """The answer when a key word of the question is said nowhere: which word, then the nearest
    moments, each marked as related (its best line and citation), never as the answer."""
    shown = [next((m.group(0) for m in re.finditer(rf"\b{re.escape(w)}\b", question, re.I)), w) for w in missing]
    names = " or ".join(f"“{word}”" for word in shown)
    return f"{NEVER_MENTIONED} {names}: no speech, on-screen text or caption says it.{_related(candidates)}"


def _related(candidates: list[Quotable]) -> str:
    """The nearest moments, each marked as related (its best line and citation), never as the answer:
    those of the best moment's video (a clip of another lecture read beside it is not about the topic)."""
    clips = sorted({c["clip"] for c in candidates})
    video = next((c["video"] for c in candidates if c["clip"] == clips[0]), None) if clips else None
    same = [clip for clip in clips if any(c["clip"] == clip and c["video"] == video for c in candidates)]
    lines = []
    for clip in same[:RELATED]:
        best = max((c for c in candidates if c["clip"] == clip), key=lambda c: c.get("score", 0.0))
        lines.append(f"- related: “{quote_safe(best['text'])}” {cite_tag(best['video'], best['start'], best['end'])}")
    nearest = "\nThe nearest moments are about the question's topic but do not answer it:\n" if lines else ""
    return nearest + "\n".join(lines)


def _same_slide_same_moment(candidates: list[Quotable]) -> list[Quotable]:
    """Inspected clips of one video that show the same slide become one moment (the first clip's
    number): the sentence that answers may be spoken while the slide is up, in the next clip."""
    first: dict[tuple[str, tuple[str, ...]], int] = {}
    moment: dict[int, int] = {}
    for slide in sorted((c for c in candidates if c["kind"] == "slide"), key=lambda c: c["clip"]):
        key = (slide["video"], tuple(sorted(slide["lines"])))
        moment[slide["clip"]] = first.setdefault(key, slide["clip"])
    return [{**c, "clip": moment.get(c["clip"], c["clip"])} for c in candidates]


def _context(tools: VideoTools, question: str, top: Quotable) -> list[Quotable]:
    """The sentences spoken within `CONTEXT_S` of the best line, scored against the question, as part
    of its moment: the sentence that answers is often next to the one most like the question, and
    may lie in a clip that was not read."""
    around = _whole_sentences(tools, top["video"], max(0.0, top["start"] - CONTEXT_S), top["end"] + CONTEXT_S)
    lines: list[Quotable] = [{**line, "kind": "speech", "clip": top["clip"], "context": True} for line in around]
    for line, score in zip(lines, tools.library.similarity(question, [line["text"] for line in lines])):
        line["score"] = score
    return lines


def gather(tools: VideoTools, query: str, top_k: int) -> tuple[list[Quotable], float, list[str]]:
    """Search, then read the best clips' sentences and on-screen lines, scored against the query;
    with the best similarity of the search's first `READ` clips (whole-clip relevance, as calibrated)
    and the query's key words that the library never says (the search's `never_mentioned`).

    The search returns `SEARCH_K` clips (at least `top_k`), and the `READ` clips with the sentence most
    like the query are read: a whole clip's vector mixes its sentences, so the clip whose one sentence
    answers ("which inflates the dough" for why bread rests) can rank sixth. Reading takes the stored
    transcript and on-screen text (`get_transcript`, the clip's OCR), not `inspect_clip`: the no-LLM
    answer never quotes a caption, so re-reading frames would cost a second a clip for nothing.
    """
    found = tools.search_clips(query, k=max(top_k, SEARCH_K))
    if isinstance(found, ToolError) or not found.clips:
        return [], 0.0, [] if isinstance(found, ToolError) else list(found.never_mentioned)
    clips, missing = found.clips, list(found.never_mentioned)
    texts = [defuse(clip.spoken_and_shown()) for clip in clips]
    clip_scores = tools.library.similarity(query, texts)
    scored = zip(clips, clip_scores, _best_sentences(tools, query, clips))
    ranked = sorted(scored, key=lambda item: -max(item[1], item[2]))[:READ]
    candidates: list[Quotable] = []
    seen: set[tuple[str, float, float]] = set()
    for number, (hit, _, _) in enumerate(ranked):
        sentences: list[Quotable] = []
        for line in _whole_sentences(tools, hit.video, hit.start, hit.end):
            key = (line["video"], line["start"], line["end"])
            if key not in seen:  # a sentence over two read clips is read with the better-ranked one
                seen.add(key)
                mostly_here = hit.start <= (line["start"] + line["end"]) / 2 <= hit.end
                sentences.append({**line, "kind": "speech", "clip": number, "edge": not mostly_here})
        candidates += sentences + _screen_lines(tools, hit, number)
    for c, score in zip(candidates, tools.library.similarity(query, [c["text"] for c in candidates])):
        c["score"] = score
    return candidates, max(clip_scores[:READ]), missing


def _screen_lines(tools: VideoTools, hit: ClipEvidence, number: int) -> list[Quotable]:
    """The hit clip's on-screen lines in reading order, then its running headers (`running_lines`: the
    lecture title names the video, not the moment), marked `running`: they count as evidence that the
    video is about the question's subject (see `relevance`), but are never quoted."""
    clips = tools.library.clips(hit.video)
    shown = "\n".join(c.ocr for c in clips if c.start < hit.end and c.end > hit.start)
    lines = [line.strip() for line in dict.fromkeys(shown.split("\n")) if len(line.strip()) > 2]
    headers = running_lines(clips)
    running = {line for line in lines if line in headers}
    moment = [line for line in lines if line not in running]
    shown_lines: list[Quotable] = []
    for order, line in enumerate(moment + sorted(running)):
        item: Quotable = {"kind": "screen", "clip": number, "order": order, "text": line}
        if line in running:
            item["running"] = True
        shown_lines.append({**item, "video": hit.video, "start": hit.start, "end": hit.end})
    return shown_lines


def _whole_sentences(tools: VideoTools, video: str, start: float, end: float) -> list[Quotable]:
    """The sentences spoken in [start, end], whole (`get_transcript` reads past the span's edges), as
    plain text."""
    around = tools.get_transcript(video, start, end)
    if isinstance(around, ToolError):
        return []
    return [
        {
            "video": line.video,
            "video_id": line.video_id,
            "start": line.start,
            "end": line.end,
            "cite_as": line.cite_as,
            "text": defuse(line.text).strip(),
        }
        for line in around.lines
    ]


def _best_sentences(tools: VideoTools, query: str, clips: list[ClipEvidence]) -> list[float]:
    """Each clip's best speech sentence's similarity to the query (0 for a clip without speech)."""
    sentences = [[defuse(line.text) for line in clip.speech] for clip in clips]
    scores = iter(tools.library.similarity(query, [sentence for group in sentences for sentence in group]))
    return [max((next(scores) for _ in group), default=0.0) for group in sentences]


def _slides(tools: VideoTools, question: str, candidates: list[Quotable]) -> list[Quotable]:
    """Each read clip's on-screen lines as slides, in reading order, scored as a whole: a slide's
    heading and bullets together state a fact that no single short line is close to. A clip that
    spans a slide change gives two slides (`shown_together`), never one quote of both."""
    by_clip: dict[int, list[Quotable]] = {}
    for c in candidates:
        if c["kind"] == "screen":
            by_clip.setdefault(c["clip"], []).append({**c, "text": unwrap(c["text"]).strip()})
    slides: list[Quotable] = []
    for clip, lines in by_clip.items():
        unique = list({c["text"]: c for c in sorted(lines, key=lambda c: c.get("order", 0))}.values())
        for shown in shown_together(tools, unique):
            quoted = _slide_lines(question, shown)
            slides.append(
                {
                    "kind": "slide",
                    "clip": clip,
                    "video": shown[0]["video"],
                    "lines": [c["text"] for c in quoted],
                    "text": ". ".join(c["text"] for c in shown),
                    "start": min(c["start"] for c in shown),
                    "end": max(c["end"] for c in shown),
                }
            )
    if slides:
        for slide, score in zip(slides, tools.library.similarity(question, [slide["text"] for slide in slides])):
            slide["score"] = score
    return slides


def _slide_lines(question: str, shown: list[Quotable]) -> list[Quotable]:
    """A slide's lines to quote, in reading order: all of a short one; of one with more than
    `SLIDE_LINES`, its heading and the lines that rank best for the question (`rank_lines`), so that
    "Chief engineer: Joseph Strauss", the last of seven, is quoted for who led the work."""
    if len(shown) <= SLIDE_LINES:
        return shown
    heading, rest = shown[0], shown[1:]
    best = {c["text"] for c in rank_lines(question, rest)[: SLIDE_LINES - 1]}
    return [heading, *(c for c in rest if c["text"] in best)]


def shown_together(tools: VideoTools, lines: list[Quotable]) -> list[list[Quotable]]:
    """One clip's on-screen lines (reading order, each distinct line where first seen) as the slides
    shown one after the other: split where the lines before are all off screen in the next clip and
    the lines after were not on screen in the previous one. A clip's text is stored per clip, not per
    frame, so its neighbours tell which lines left and which came."""
    first = lines[0]
    clips = sorted(tools.library.clips(first["video"]), key=lambda c: c.start)
    before = [c for c in clips if c.end <= first["start"] + 0.05]
    after = [c for c in clips if c.start >= first["end"] - 0.05]
    earlier = set(before[-1].ocr.split("\n")) if before else set()
    later = set(after[0].ocr.split("\n")) if after else set()
    texts = [line["text"] for line in lines]
    for cut in range(1, len(texts)):
        head, tail = set(texts[:cut]), set(texts[cut:])
        if not head & later and not tail & earlier and (head & earlier or tail & later):
            return [lines[:cut], lines[cut:]]
    return [lines]


def _which_videos(tools: VideoTools, question: str, top_k: int) -> str:
    found = tools.find_videos(question, k=min(top_k, 5))
    if isinstance(found, ToolError) or not found.videos:
        return f"{NOT_FOUND}: the library has no matching videos."
    summaries = [defuse(video.summary) for video in found.videos]
    scores = tools.library.similarity(question, summaries)
    floor = max(MIN_VIDEO_SIMILARITY, max(scores) - VIDEO_MARGIN)
    lines = []
    for video, summary, score in zip(found.videos, summaries, scores):
        if score >= floor:
            lines.append(f"- {video.video}: {summary[:240]} {video.cite_as}")
    if not lines:
        return f"{NOT_FOUND}: no video's summary is close to the question."
    return "These videos match:\n" + "\n".join(lines)


def _follow_on(tools: VideoTools, question: str, last: CitationJson, *, after: bool) -> str:
    """Continue from the last cited span: the next (or previous) sentences of the same video."""
    video, start, end = last["video"], float(last["start"]), float(last["end"])
    span = (end, end + FOLLOW_WINDOW) if after else (max(0.0, start - FOLLOW_WINDOW), start)
    if span[1] <= span[0]:
        return f"{NOT_FOUND}: nothing comes before {cite_tag(video, start, end)} in {video}."
    found = tools.get_transcript(video, span[0], span[1])
    if isinstance(found, ToolError):
        return f"{NOT_FOUND}: nothing comes {'after' if after else 'before'} that moment ({found.error})."
    lines = [line for line in found.lines if (line.start >= end - 0.05 if after else line.end <= start + 0.05)]
    lines = lines[:2] if after else lines[-2:]
    if not lines:
        return f"{NOT_FOUND}: no speech {'follows' if after else 'precedes'} that moment in {video}."
    said = " ".join(f"\u201c{defuse(line.text).rstrip('.')}.\u201d {line.cite_as}" for line in lines)
    return f"{'After' if after else 'Before'} that, {video} says: {said}"


def _last_citation(history: list[Turn]) -> CitationJson | None:
    """The latest-ending citation in the video of the last answer's lead (its first citation)."""
    for turn in reversed(history):
        citations = turn.get("citations") or []
        if citations:
            video = citations[0]["video"]
            return max((c for c in citations if c["video"] == video), key=lambda c: c["end"])
    return None
