"""Evaluation over a QA file: search recall, temporal IoU of the top hit, and cited-answer accuracy.

Each QA line is JSON with `question`, `video` (file name), `start`, `end` (the gold span, seconds) and
`keywords`. Search recall@k counts a hit in the gold video overlapping the gold span; an answer is
right when it answers (its outcome is "answered"), contains an expected keyword and one of its
citations overlaps the gold span. A refusal whose related moments carry the fact ("The library never
mentions …", then the line that answers, marked as not answering) is wrong, and counted apart
(`fact_in_refusal`): the answerer found the fact and told the user it was not there. Keywords
match word by word after Snowball stemming, so a slide's "Dough doubles in size" carries the keyword
"doubled" and "retransmitted" carries "retransmits", and a number up to twenty or a ten written as a
word matches it in digits ("give 2 rescue breaths" carries "two rescue breaths": speech recognition
writes either); the plain substring match is reported beside it (`answer_with_citation_exact`), with
its ceiling: the share of questions whose keyword the library's speech or on-screen text holds at the
gold span (`keyword_in_library_exact`), since no extractive answer can quote a word the speech model
misheard and no slide shows.

Every answer also gets an `outcome`: "answered", "not_found" or "absent" (the answerer's own, or for an
answerer that gives none, "not_found" when the answer opens with `NOT_FOUND`). `evaluate` reports the
share answered; `evaluate_near_miss` runs a near-miss file (questions in a video's field about
something the library never says: JSON lines with `question`, `near`, `absent`) and reports the share
refused or flagged, which should be high while the answerable share stays high too.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict, cast

from vidrag.agent.answer import Answer
from vidrag.agent.prompts import NOT_FOUND
from vidrag.storage.errors import InputError
from vidrag.tools.absence import SPELLED_NUMBERS

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from vidrag.storage.types import Hit
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)


class QARecord(TypedDict):
    """A QA question with the span that answers it and the key words a right answer says."""

    question: str
    video: str
    start: float
    end: float
    keywords: list[str]


class NearMiss(TypedDict):
    """A question the library cannot answer: the video it comes near and the terms it never says."""

    question: str
    near: str
    absent: list[str]


class EvalRow(TypedDict):
    """One QA question scored (`evaluate_one`)."""

    question: str
    video: str
    hit_at_1: bool
    hit_at_5: bool
    top_iou: float
    keyword: bool
    all_keywords: bool
    cited: bool
    correct: bool
    fact_in_refusal: bool
    correct_exact: bool
    keyword_in_library_exact: bool
    outcome: str
    mode: str
    seconds: float
    answer: str


class EvalReport(TypedDict):
    """A QA file scored (`evaluate`)."""

    questions: int
    recall_at_1: float
    recall_at_5: float
    mean_iou: float
    answer_with_citation: float
    answer_with_citation_exact: float
    fact_in_refusal: float
    keyword_in_library_exact: float
    answer_keyword: float
    answer_all_keywords: float
    answered: float
    latency_p50: float
    mode: str
    rows: list[EvalRow]


class NearMissRow(NearMiss):
    """A near-miss question asked: its outcome and the answer's first 120 characters."""

    outcome: str
    answer: str


class NearMissReport(TypedDict):
    """A near-miss file asked (`evaluate_near_miss`)."""

    questions: int
    refused: float
    answered: int
    mode: str
    rows: list[NearMissRow]


class _Stemmer(Protocol):
    def stemWords(self, words: list[str]) -> list[str]: ...


def load_qa(path: str | Path) -> list[QARecord]:
    """The QA records of a JSON-lines file.

    Raises:
        InputError: the file is missing, or a line is not a QA record.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"QA file {path} not found; give a .jsonl file (e.g. samples/data/sample_qa.jsonl).")
    records: list[QARecord] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records.append(
                QARecord(
                    question=record["question"],
                    video=record["video"],
                    start=float(record["start"]),
                    end=float(record["end"]),
                    keywords=list(record.get("keywords", [])),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InputError(
                f"{path}:{number} is not a QA record ({err}); each line needs question, video, start, end and keywords."
            ) from err
    return records


def load_near_miss(path: str | Path) -> list[NearMiss]:
    """The near-miss questions of a JSON-lines file: ``question``, ``near`` (a video), ``absent`` (terms).

    Raises:
        InputError: the file is missing, or a line is not a near-miss record.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"near-miss file {path} not found; give a .jsonl file (e.g. samples/data/near_miss.jsonl).")
    records: list[NearMiss] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record["question"]
            if not isinstance(question, str) or not question.strip():
                raise ValueError("the question is empty")
            records.append(
                NearMiss(question=question, near=record.get("near", ""), absent=list(record.get("absent", [])))
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InputError(
                f"{path}:{number} is not a near-miss record ({err}); each line needs a question "
                "(near and absent are optional)."
            ) from err
    return records


def outcome(result: Mapping[str, object]) -> str:
    """An answer's outcome: the answerer's ``outcome`` when it gives one, else "not_found" for an answer
    that opens with `NOT_FOUND` and "answered" otherwise."""
    given = result.get("outcome")
    if given:
        return str(given)
    return "not_found" if str(result.get("answer", "")).startswith(NOT_FOUND) else "answered"


def iou(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Temporal intersection over union of two spans."""
    inter = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    union = max(a_end, b_end) - min(a_start, b_start)
    return inter / union if union > 0 else 0.0


@functools.cache
def _stemmer() -> _Stemmer:
    import snowballstemmer

    stemmer: _Stemmer = snowballstemmer.stemmer("english")
    return stemmer


def _stems(text: str) -> list[str]:
    words = [SPELLED_NUMBERS.get(word, word) for word in re.findall(r"\w+", text.lower())]
    return _stemmer().stemWords(words)


def has_keyword(answer: str, keyword: str) -> bool:
    """Whether the answer says the keyword: its words, stemmed, in a row among the answer's stemmed words."""
    words, wanted = _stems(answer), _stems(keyword)
    if not wanted:
        return False
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def _same_video(name: str, gold: str) -> bool:
    return Path(name).name == Path(gold).name


def _hit_ok(hit: Hit, record: QARecord) -> bool:
    return _same_video(hit.video, record["video"]) and hit.start < record["end"] and hit.end > record["start"]


def evaluate_one(
    library: Library, record: QARecord, *, answer: Callable[[str], Mapping[str, object]], k: int = 5
) -> EvalRow:
    """One QA row: search ranks, top-hit IoU, and whether the answer has the fact with a right citation."""
    hits = library.search(record["question"], k=k)
    top = hits[0] if hits else None
    result = answer(record["question"])
    reply = result if isinstance(result, Answer) else Answer.from_dict(result)  # a stand-in's dict
    text = reply.text.lower()
    keyword = any(has_keyword(text, word) for word in record["keywords"])
    exact = any(word.lower() in text for word in record["keywords"])
    held = " ".join(
        f"{c.transcript} {c.ocr}" for c in library.span_clips(record["video"], record["start"], record["end"])
    )
    cited = any(
        _same_video(c.video, record["video"]) and c.start < record["end"] and c.end > record["start"]
        for c in reply.citations
    )
    said = outcome(result)
    answered = said == "answered"
    return EvalRow(
        question=record["question"],
        video=record["video"],
        hit_at_1=bool(top and _hit_ok(top, record)),
        hit_at_5=any(_hit_ok(h, record) for h in hits[:5]),
        top_iou=iou(top.start, top.end, record["start"], record["end"])
        if top and _same_video(top.video, record["video"])
        else 0.0,
        keyword=keyword,
        all_keywords=all(has_keyword(text, w) for w in record["keywords"]),
        cited=cited,
        correct=keyword and cited and answered,
        correct_exact=exact and cited and answered,
        fact_in_refusal=keyword and cited and not answered,
        keyword_in_library_exact=any(word.lower() in held.lower() for word in record["keywords"]),
        outcome=said,
        mode=reply.mode,
        seconds=cast(float, result.get("seconds", 0.0)),  # an answerer's seconds, as it gave them
        answer=reply.text,
    )


def evaluate(library: Library, qa_path: str | Path, *, llm: LLM | None = None) -> EvalReport:
    """Score search and answers on a QA file.

    Returns:
        {"questions", "recall_at_1", "recall_at_5", "mean_iou", "answer_with_citation",
        "answer_with_citation_exact", "keyword_in_library_exact", "answer_keyword", "answer_all_keywords",
        "answered", "latency_p50", "mode", "rows": [...]}; "answered" is the share of questions whose
        outcome is "answered" (not refused as not found or absent).

    Raises:
        InputError: a bad or empty QA file.
    """
    from vidrag.agent import answer_question

    records = load_qa(qa_path)
    if not records:
        raise InputError(f"QA file {qa_path} has no questions.")
    rows = [evaluate_one(library, r, answer=lambda q: answer_question(library, q, llm=llm)) for r in records]

    def share(
        key: Literal[
            "hit_at_1",
            "hit_at_5",
            "correct",
            "correct_exact",
            "fact_in_refusal",
            "keyword_in_library_exact",
            "keyword",
            "all_keywords",
        ],
    ) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4)

    return EvalReport(
        questions=len(rows),
        recall_at_1=share("hit_at_1"),
        recall_at_5=share("hit_at_5"),
        mean_iou=round(statistics.fmean(r["top_iou"] for r in rows), 4),
        answer_with_citation=share("correct"),
        answer_with_citation_exact=share("correct_exact"),
        fact_in_refusal=share("fact_in_refusal"),
        keyword_in_library_exact=share("keyword_in_library_exact"),
        answer_keyword=share("keyword"),
        answer_all_keywords=share("all_keywords"),
        answered=round(sum(r["outcome"] == "answered" for r in rows) / len(rows), 4),
        latency_p50=round(statistics.median(r["seconds"] for r in rows), 3),
        mode=rows[0]["mode"],
        rows=rows,
    )


def evaluate_near_miss(library: Library, path: str | Path, *, llm: LLM | None = None) -> NearMissReport:
    """Ask every near-miss question and count those the answer refuses or flags (outcome not "answered").

    Returns:
        {"questions", "refused" (the share refused or flagged), "answered" (how many were answered),
        "mode", "rows": [{"question", "near", "absent", "outcome", "answer" (its first 120 characters)}]}.

    Raises:
        InputError: a bad or empty near-miss file.
    """
    from vidrag.agent import answer_question

    records = load_near_miss(path)
    if not records:
        raise InputError(f"near-miss file {path} has no questions.")
    rows: list[NearMissRow] = []
    mode = ""
    for record in records:
        result = answer_question(library, record["question"], llm=llm)
        mode = result.mode
        rows.append(NearMissRow(**record, outcome=result.outcome, answer=result.text[:120]))
    answered = sum(row["outcome"] == "answered" for row in rows)
    return NearMissReport(
        questions=len(rows),
        refused=round(1 - answered / len(rows), 4),
        answered=answered,
        mode=mode,
        rows=rows,
    )
