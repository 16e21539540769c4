"""The notebooks run top to bottom on the embedded default, offline, and are committed without outputs.

Each notebook is executed with nbclient in a kernel started from this interpreter (`sys.executable`,
through a kernelspec written to a temporary folder), so a fresh CI machine with only the venv works.
A broken cell fails the test with that cell's source and traceback. Every notebook writes only under
`$VIDRAG_NOTEBOOK_DATA/<its folder>`; the test points `VIDRAG_HOME` at a folder that must stay absent.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.slow  # runs the notebooks in kernels on an ingested library

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01_explore_library.ipynb", "02_evaluate.ipynb", "03_talking_head.ipynb"]
DATA_FOLDERS = {
    "01_explore_library.ipynb": "01_explore",
    "02_evaluate.ipynb": "02_evaluate",
    "03_talking_head.ipynb": "03_talking_head",
}
CELL_TIMEOUT_S = 600  # one cell: the ingest of the sample library is the longest (~1-2 min on 2 cores)
KERNEL = "vidrag-test-venv"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def test_the_notebooks_are_all_listed():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    notebook = _read(name)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {index} has outputs: strip them before committing"
            assert cell.execution_count is None, f"{name} cell {index} has an execution count"
        assert not cell.get("attachments"), f"{name} cell {index} has attachments"
        assert "execution" not in cell.metadata, f"{name} cell {index} has execution timings"
    assert "widgets" not in notebook.metadata, f"{name} carries widget state"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_cell_keeps_the_hub_offline(name):
    first_code = next(c for c in _read(name).cells if c.cell_type == "code")
    assert 'os.environ.setdefault("HF_HUB_OFFLINE", "1")' in first_code.source


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernelspec whose argv is this interpreter, in a folder of its own."""
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / KERNEL
    spec.mkdir()
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "vidrag (test venv)",
                "language": "python",
                "env": {
                    "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1",
                    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                },
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(folder)])


@pytest.fixture
def run_notebook(kernel_specs, tmp_path, monkeypatch):
    """Execute a notebook; returns the executed notebook, its data folder and the seconds it took."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("VIDRAG_NOTEBOOK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VIDRAG_HOME", str(tmp_path / "user-library"))  # must never be touched
    monkeypatch.delenv("VIDRAG_QDRANT_URL", raising=False)

    def run(name: str):
        notebook = _read(name)
        manager = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=CELL_TIMEOUT_S,
            startup_timeout=120,
            allow_errors=False,
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        began = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as err:
            pytest.fail(f"{name}: a cell failed\n{err}", pytrace=False)
        seconds = time.perf_counter() - began
        print(f"{name}: executed in {seconds:.0f} s")
        assert not (tmp_path / "user-library").exists(), f"{name} wrote into VIDRAG_HOME"
        return notebook, tmp_path / "data" / DATA_FOLDERS[name], seconds

    return run


@pytest.fixture
def seeded(sample_dir, sample_home, tmp_path):
    """Give a notebook's data folder what this session already built: the sample lectures it renders
    (the generator keeps files whose spec is unchanged) and the ingest cache with their transcripts
    (speech recognition is skipped for unchanged files). The notebook still runs every step: it
    checks the files, decodes, reads text, embeds and answers. The generator and the speech
    recognition themselves are tested on their own (tests/test_samples.py, tests/indexing)."""
    from vidrag.samples.library import LECTURES, REAL_CLIPS

    def seed(name: str) -> None:
        folder = tmp_path / "data" / DATA_FOLDERS[name]
        samples = folder / "samples"
        samples.mkdir(parents=True)
        for file in [lecture.file for lecture in LECTURES] + list(REAL_CLIPS):
            if (sample_dir / file).is_file():
                shutil.copy2(sample_dir / file, samples / file)
        shutil.copy2(sample_dir / "manifest.json", samples / "manifest.json")
        shutil.copytree(sample_home / "cache", folder / "home" / "cache")

    return seed


def _outputs(notebook, kind: str) -> list:
    """Outputs of the code cells holding `kind` data ("image/png", "text/html") or stream text."""
    found = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and kind == "stream":
                found.append(out.text)
            elif kind in out.get("data", {}):
                found.append(out.data[kind])
    return found


def _stream_text(notebook) -> str:
    return "".join(_outputs(notebook, "stream"))


def test_explore_library_notebook(run_notebook, seeded):
    seeded("01_explore_library.ipynb")
    notebook, data, _ = run_notebook("01_explore_library.ipynb")
    assert len(_outputs(notebook, "image/png")) >= 4  # timings, timelines, thumbnails, search hits
    players = [h for h in _outputs(notebook, "text/html") if "<video" in h]
    assert players, "no cited moment was shown"
    assert all("data:video/mp4;base64," in h and "#t=" in h for h in players)
    text = _stream_text(notebook)
    for name in ("tcp_networking.mp4", "baking_bread.mp4", "bikes.mp4"):
        assert f"{name}" in text
    assert "indexed" in text
    assert "(extractive," in "".join(h for h in _outputs(notebook, "text/markdown"))
    assert "captioner=openai" in text and "qdrant_url=http://localhost:6333" in text
    assert (data / "home" / "catalog.sqlite").is_file() and (data / "samples" / "manifest.json").is_file()


def test_evaluate_notebook(run_notebook, seeded):
    seeded("02_evaluate.ipynb")
    notebook, data, _ = run_notebook("02_evaluate.ipynb")
    assert len(_outputs(notebook, "image/png")) >= 3  # recall/IoU, hybrid vs dense, max clip 10 s vs 6 s
    text = _stream_text(notebook)
    assert "recall" in text.lower() and "iou" in text.lower()
    assert "hybrid" in text and "dense" in text and "max 6 s" in text
    assert (data / "home" / "catalog.sqlite").is_file() and (data / "home-6s" / "catalog.sqlite").is_file()


def test_talking_head_notebook(run_notebook):
    notebook, data, _ = run_notebook("03_talking_head.ipynb")
    videos = [h for h in _outputs(notebook, "text/html") if "<video" in h]
    assert videos and "base64" in videos[0]
    text = _stream_text(notebook)
    assert '"width": 64' in text and '"codec": "h264"' in text
    real_ran = len(videos) == 2
    assert real_ran or "Skipped the real model" in text, "the real-model cell neither ran nor said why"
    if "weights are not downloaded" in text:
        assert "vidrag models download framepack" in text
    assert (data / "tiny.mp4").is_file() and (data / "tiny.json").is_file()
