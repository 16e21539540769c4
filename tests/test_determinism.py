"""The same files give the same ranking: three ingests of the sample library into fresh homes (other
file orders, other thread counts), searched in this process and in others, give the same top 5 for
every QA question, with the same scores.

The later ingests reuse the first one's transcript cache: speech recognition is the slow stage, and what
varied from run to run was the store and the fusion, not the transcripts. A subprocess ingests and
searches one of the homes with one torch thread.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from vidrag.agent.evaluate import load_qa
from vidrag.samples.library import shipped_qa_paths

TOP = 5


def _questions() -> list[str]:
    return [record["question"] for path in shipped_qa_paths() for record in load_qa(path)]


def _tops(library, questions: list[str]) -> dict[str, list[list]]:
    return {
        question: [
            [Path(h.video).name, round(h.start, 3), round(h.end, 3), h.score] for h in library.search(question, k=TOP)
        ]
        for question in questions
    }


_CHILD = """
import json, sys
import torch
torch.set_num_threads(1)
from vidrag.api.settings import Settings
from vidrag.api.wiring import open_library
home, folder, out = sys.argv[1:4]
questions = json.loads(sys.stdin.read())
library = open_library(Settings(home=home), for_ingest=True)
files = sorted(p for p in __import__("pathlib").Path(folder).iterdir() if p.suffix == ".mp4")
results = library.ingest(files[::-1] if sys.argv[4] == "reversed" else files)
assert all(r.status != "failed" for r in results), results
tops = {q: [[__import__("pathlib").Path(h.video).name, round(h.start, 3), round(h.end, 3), h.score]
            for h in library.search(q, k=5)] for q in questions}
open(out, "w").write(json.dumps(tops))
library.close()
"""


def _fresh_home(sample_home: Path, home: Path) -> None:
    home.mkdir(parents=True)
    shutil.copytree(sample_home / "cache", home / "cache")


def _in_child(home: Path, folder: Path, order: str, questions: list[str], out: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    subprocess.run(
        [sys.executable, "-c", _CHILD, str(home), str(folder), str(out), order],
        input=json.dumps(questions),
        text=True,
        check=True,
        env=env,
        timeout=900,
    )
    return json.loads(out.read_text())


def test_three_ingests_searched_from_three_processes_rank_alike(sample_library, sample_home, sample_dir, tmp_path):
    questions = _questions()
    assert len(questions) >= 40
    first = _tops(sample_library, questions)

    # a second home, ingested in another process with one thread, videos in reverse order
    second_home = tmp_path / "second"
    _fresh_home(sample_home, second_home)
    second = _in_child(second_home, sample_dir, "reversed", questions, tmp_path / "second.json")

    # a third, ingested in this process one video at a time in a shuffled order, searched from a child
    from vidrag.api.settings import Settings
    from vidrag.api.wiring import open_library

    third_home = tmp_path / "third"
    _fresh_home(sample_home, third_home)
    library = open_library(Settings(home=third_home), for_ingest=True)
    try:
        files = sorted(p for p in sample_dir.iterdir() if p.suffix == ".mp4")
        for path in files[1::2] + files[::2]:
            assert library.ingest([path])[0].status != "failed"
    finally:
        library.close()
    third = _in_child(
        third_home, sample_dir, "sorted", questions, tmp_path / "third.json"
    )  # nothing new: all unchanged

    differ = [q for q in questions if not (first[q] == second[q] == third[q])]
    assert not differ, {q: (first[q], second[q], third[q]) for q in differ[:3]}
