"""The wheel as a user installs it: built from the sources, installed into a fresh venv, used from elsewhere.

The fresh venv reuses this environment's installed dependencies through a .pth file (a full install
would download gigabytes), but vidrag itself comes only from the wheel: the checkout is neither on
its path nor the working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
SOURCES = ["api", "agent", "tools", "indexing", "storage", "samples", "pyproject.toml", "README.md"]
CHECK = """
import importlib.util, json, sys
import vidrag, vidrag.llama_index
from vidrag.samples.library import shipped_qa_path
library = vidrag.open_library(vidrag.Settings(home=sys.argv[1]))
hits = library.search(sys.argv[2], k=3)
print(json.dumps({
    "vidrag": vidrag.__file__, "retriever": vidrag.llama_index.__file__, "api": vidrag.api.__file__,
    "generic": [n for n in ("api", "agent", "tools", "indexing", "storage", "samples") if importlib.util.find_spec(n)],
    "qa": shipped_qa_path().is_file(), "hits": [h.to_dict() for h in hits],
}))
"""


def build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the sources, so no build files land in the checkout."""
    source = out / "src"
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(
            ROOT / name,
            source / name,
            **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {}),
        )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    return next(out.glob("vidrag-*.whl"))


def fresh_venv(folder: Path) -> Path:
    """A venv without vidrag whose path ends with this environment's site-packages (the dependencies)."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    Path(purelib, "_dependencies.pth").write_text("\n".join(ours) + "\n")
    return python


def test_the_wheel_installs_and_searches_outside_the_checkout(sample_home, sample_dir, tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert {
        "vidrag/api/static/index.html",
        "vidrag/api/static/app.js",
        "vidrag/samples/data/sample_qa.jsonl",
        "vidrag/llama_index.py",
        "vidrag/api/mcp_server.py",
    } <= set(names)
    assert not [n for n in names if n.split("/")[0] in ("api", "agent", "tools", "indexing", "storage", "samples")]

    python = fresh_venv(tmp_path / "venv")
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--ignore-installed",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)  # the embedded store admits one process per folder
    qa = json.loads((sample_dir / "sample_qa.jsonl").read_text().splitlines()[0])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(python), "-c", CHECK, str(home), qa["question"]],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for key in ("vidrag", "retriever", "api"):
        assert Path(report[key]).is_relative_to(site), report[key]
        assert not Path(report[key]).resolve().is_relative_to(ROOT), report[key]
    assert report["generic"] == [] and report["qa"]
    top = report["hits"][0]
    assert Path(top["video"]).name == qa["video"] and top["start"] < qa["end"] and top["end"] > qa["start"]
    cli = subprocess.run(
        [str(python.with_name("vidrag")), "--help"], cwd=outside, env=env, capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0, cli.stderr  # the console script runs the wheel's CLI, extensions included
    assert all(command in cli.stdout for command in ("ingest", "search", "serve", "mcp", "eval"))
