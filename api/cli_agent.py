"""`vidrag ask` and `vidrag eval`: the agent on the command line.

`ask` prints the answer and its checked citations as `video @ mm:ss–mm:ss` (or JSON with --json) and
streams the tool steps (and LLM tokens) to stderr as they happen. `eval` scores QA files (by
default the shipped QA sets of the sample library) and, with `--near-miss`, the share of unanswerable near-miss
questions the answer refuses or flags.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from vidrag.api import cli_common
from vidrag.storage.types import clock
from vidrag.tools.evidence import JSON, ToolStep

log = logging.getLogger(__name__)

app = typer.Typer()
"""`vidrag ask` and `vidrag eval`, mounted on the main CLI by `vidrag.api.cli`."""


def _stderr_stream(event: dict[str, JSON]) -> None:
    if event.get("type") == "token":
        sys.stderr.write(str(event["delta"]))
    elif event.get("type") == "step":
        step = ToolStep.from_dict(event)
        args = ", ".join(f"{k}={v!r}" for k, v in step.args.items())
        sys.stderr.write(f"→ {step.tool}({args}) · {step.result}\n")
    sys.stderr.flush()


@app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the videos.")],
    session: Annotated[
        str | None, typer.Option("--session", help="Conversation id: keeps context between questions.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=20, help="Clips searched for the answer.")] = 5,
) -> None:
    """Answer a question from the library, citing the moments used (video @ mm:ss–mm:ss)."""
    from vidrag.agent import Answer, answer_question
    from vidrag.api.client import is_remote
    from vidrag.api.wiring import make_llm

    library = cli_common.open_library()
    stream = None if json_out else _stderr_stream
    if is_remote(library):
        result = library.ask(question, session=session, stream=stream, top_k=top_k)
    else:
        result = answer_question(
            library, question, llm=make_llm(cli_common.settings()), session=session, stream=stream, top_k=top_k
        )
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    answer = result if isinstance(result, Answer) else Answer.from_dict(result)  # a server's answer
    typer.echo(answer.text)
    parts = result.get("parts")  # as given: an old server sends none
    if isinstance(parts, list) and any(isinstance(part, dict) and part.get("source") == "video" for part in parts):
        from vidrag.agent.provenance import CLI_NOTICE

        typer.echo(CLI_NOTICE, err=True)  # video text is untrusted: say which text is quoted from the videos
    if answer.citations:
        typer.echo("")
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        quote = quote if len(quote) <= 120 else quote[:119] + "…"
        typer.echo(f"  {Path(c.video).name} @ {clock(c.start, tenths=False)}–{clock(c.end, tenths=False)}  {quote}")
    typer.echo(f"({answer.mode}, {answer.seconds or 0.0:.1f} s)", err=True)


@app.command("eval")
def eval_command(
    qa_files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="QA .jsonl files (question, video, start, end, keywords per line); default (with no "
            "--near-miss either): the shipped sample sets, for a library built with `vidrag demo`."
        ),
    ] = None,
    near_miss: Annotated[
        list[Path] | None,
        typer.Option(
            "--near-miss",
            help="A near-miss .jsonl file (question, near, absent per line: questions the library cannot "
            "answer); reports the share refused or flagged. Repeatable.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Score search and answers on QA files: recall@1/5, top-hit IoU, cited-answer share, share answered,
    per file; with --near-miss, the share of unanswerable questions refused or flagged."""
    from vidrag.agent.evaluate import evaluate, evaluate_near_miss
    from vidrag.api.client import is_remote
    from vidrag.api.wiring import make_llm
    from vidrag.samples.library import shipped_qa_paths

    files = qa_files or ([] if near_miss else shipped_qa_paths())
    library, llm = cli_common.open_library(), make_llm(cli_common.settings())
    if is_remote(library):
        raise library.needs_local("vidrag eval")
    reports = [(str(path), evaluate(library, path, llm=llm)) for path in files]
    misses = [(str(path), evaluate_near_miss(library, path, llm=llm)) for path in near_miss or []]
    if json_out:
        sets = [{"qa_file": name, **report} for name, report in reports]
        near = [{"near_miss_file": name, **miss} for name, miss in misses]
        typer.echo(json.dumps({"sets": sets, "near_miss": near}, indent=2, default=str))
        return
    for name, report in reports:
        typer.echo(f"== {name}")
        for row in report["rows"]:
            mark = "ok " if row["correct"] else "-- "
            typer.echo(f"{mark} r@1={int(row['hit_at_1'])} iou={row['top_iou']:.2f}  {row['question']}")
        typer.echo(
            f"{report['questions']} questions ({report['mode']}): recall@1 {report['recall_at_1']:.2f}, "
            f"recall@5 {report['recall_at_5']:.2f}, mean IoU {report['mean_iou']:.2f}, answers with the fact "
            f"and a correct citation {report['answer_with_citation']:.2f} (exact keyword "
            f"{report['answer_with_citation_exact']:.2f} of a ceiling of {report['keyword_in_library_exact']:.2f}: "
            f"questions whose keyword the library's text holds), answered (not refused) {report['answered']:.2f}, "
            f"refused though a related moment quoted the fact {report['fact_in_refusal']:.2f}, "
            f"ask p50 {report['latency_p50']:.2f} s\n"
        )
    for name, miss in misses:
        typer.echo(f"== near misses: {name}")
        for asked in miss["rows"]:
            if asked["outcome"] == "answered":
                answer = " ".join(asked["answer"].split())
                typer.echo(f"answered  {asked['question']}  → {answer}")
        typer.echo(
            f"{miss['questions']} near-miss questions ({miss['mode']}): refused or flagged {miss['refused']:.2f}, "
            f"answered {miss['answered']}\n"
        )
