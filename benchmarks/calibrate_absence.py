"""Calibrates `tools.absence.SAID_AS`: answerable questions kept vs near misses refused, one run per value.

For each value of `SAID_AS` (how close in meaning a word of the found moments must be to a question's
thing for the thing to count as said), runs the no-LLM answers over the QA files (share answered,
share with the fact and an overlapping citation) and the near-miss files (share refused or flagged).
A higher value refuses more near misses and more paraphrased answerable questions; 1.01 is the old
rule (a thing counts as said only in its own words). Run it on a library whose questions you did not
tune on as well as on the shipped ones.

    python benchmarks/calibrate_absence.py --home DIR --qa A.jsonl [...] --near-miss N.jsonl [...]
        [--values 0.45 0.5 0.55 1.01] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a built library (VIDRAG_HOME)")
    parser.add_argument("--qa", type=Path, nargs="+", required=True, help="answerable QA .jsonl files")
    parser.add_argument("--near-miss", type=Path, nargs="+", required=True, help="near-miss .jsonl files")
    parser.add_argument("--values", type=float, nargs="+", default=[0.45, 0.5, 0.55, 0.6, 1.01])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from vidrag.agent.evaluate import evaluate, evaluate_near_miss
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library
    from vidrag.tools import absence

    library = open_library(Settings(home=args.home))
    rows = []
    try:
        for value in args.values:
            absence.SAID_AS = value
            row: dict[str, object] = {"said_as": value}
            for path in args.qa:
                report = evaluate(library, path)
                row[f"{path.stem} answered"] = report["answered"]
                row[f"{path.stem} fact+citation"] = report["answer_with_citation"]
            for path in args.near_miss:
                row[f"{path.stem} refused"] = evaluate_near_miss(library, path)["refused"]
            rows.append(row)
            if not args.json:
                print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    finally:
        library.close()
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
