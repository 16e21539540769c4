"""Usage errors as a user meets them: the installed `vidrag` executable, run as a process.

Each mistake exits 2 with one line on stderr that names the problem and where the usage is, nothing
on stdout and no traceback; none of them loads a model (each run takes well under a second).
Help shows boolean options as flags.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VIDRAG = Path(sys.executable).parent / "vidrag"


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDRAG_HOME": str(home)}
    return subprocess.run([str(VIDRAG), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("serach", "foo"), "No such command 'serach'. Did you mean 'search'?"),
        (("search",), "Missing argument 'query'"),
        ((), "`vidrag` needs a command"),
        (("videos", "--json", "true"), "unexpected extra argument(s) (true)"),
        (("search", "foo", "--top-k", "many"), "Invalid value for '--top-k'"),
        (("search", "foo", "--top-k", "0"), "greater than or equal to 1"),
        (("search", "foo", "--mode", "fuzzy"), "'fuzzy' is not one of 'hybrid', 'dense', 'sparse'"),
        (("videos", "--colour"), "No such option"),
        (("models",), "`vidrag models` needs a command (download, list)"),
    ],
)
def test_a_usage_error_exits_2_with_one_line(args, says, tmp_path):
    result = run(*args, home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and says in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home").exists(), "a usage error must not create the library"


def test_help_shows_flags_as_flags(tmp_path):
    result = run("search", "--help", home=tmp_path)
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip().startswith("--")}
    assert lines["--json"].split()[1] == "Print", lines["--json"]
    assert "<bool>" not in result.stdout
    assert "hybrid|dense|sparse" in lines["--mode"].replace(" ", "")


HEAVY = ("torch", "transformers", "sentence_transformers", "cv2", "qdrant_client")
PROBE = (
    "import json, sys\n"
    "from vidrag.api.cli import main\n"
    "sys.argv = ['vidrag', *sys.argv[1:]]\n"
    "code = 0\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as done:\n"
    "    code = done.code or 0\n"
    f"loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
    "print('probe:', json.dumps({'loaded': loaded, 'code': code}), file=sys.stderr)\n"
)


def loaded_modules(*args: str, home: Path) -> tuple[list[str], str]:
    """The heavy modules `vidrag ARGS` imported in its process, and what it printed (it must succeed)."""
    env = {**os.environ, "VIDRAG_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("probe: ")][-1]
    probe = json.loads(line.removeprefix("probe: "))
    assert probe["code"] == 0, done.stderr
    return probe["loaded"], done.stdout


@pytest.mark.slow  # three whole processes that open a library: ~1 s each on a quiet machine
@pytest.mark.parametrize("args", [("--help",), ("videos",), ("videos", "--json")])
def test_commands_that_need_no_model_load_none(args, tmp_path):
    loaded, _ = loaded_modules(*args, home=tmp_path / "home")
    assert loaded == []
