"""Query-time embedding through the ONNX export of the bundled MiniLM: the same vectors as torch, kept
under the library's cache, rebuilt when damaged, and a search-only process that never imports torch."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidrag.indexing import query_encoder
from vidrag.indexing.embed import Embedder, resolve_model

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "How many engineers will be hired?",
    "The yeast eats the sugars in the flour and releases carbon dioxide, which inflates the dough.",
    "SYN",
    "Why does rain fall? " * 60,  # past the model's 256 tokens: truncated alike
]

pytestmark = pytest.mark.slow  # loads and exports the real MiniLM (~10 s on 2 cores)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    embedder = Embedder(cache_dir=cache)
    assert embedder.query_encoder() is not None
    return embedder, cache


def test_the_export_gives_torchs_vectors_and_later_processes_reuse_it_without_torch(exported):
    embedder, cache = exported
    torch_vectors = np.asarray(embedder.dense(TEXTS))
    [path] = (cache / "query-encoder").glob("*.onnx")
    assert path.stat().st_size > 50_000_000  # the whole transformer, not an empty graph

    later = Embedder(cache_dir=cache)
    onnx_vectors = np.asarray(later.query_dense(TEXTS))
    assert later._model is None  # the torch model was never loaded
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    assert np.abs(onnx_vectors - torch_vectors).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-6)
    # a text's vector does not depend on the batch it came in (padding is masked out)
    alone = np.asarray(later.query_dense([TEXTS[2]]))[0]
    assert np.abs(alone - onnx_vectors[2]).max() < 1e-6


def test_a_damaged_export_is_replaced(exported, tmp_path, caplog):
    _, cache = exported
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    [path] = (copy / "query-encoder").glob("*.onnx")
    path.write_bytes(b"not a model")
    embedder = Embedder(cache_dir=copy)
    with caplog.at_level(logging.WARNING):
        vectors = np.asarray(embedder.query_dense(TEXTS[:1]))
    assert "could not be opened" in caplog.text
    assert path.stat().st_size > 50_000_000
    assert np.abs(vectors - np.asarray(embedder.dense(TEXTS[:1]))).max() < 1e-5


def test_a_model_of_another_shape_is_not_exported(tmp_path):
    folder = tmp_path / "cls-model"
    shutil.copytree(resolve_model("all-MiniLM-L6-v2"), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert query_encoder.model_key(folder) is None
    embedder = Embedder(str(folder), cache_dir=tmp_path / "cache")
    assert embedder.query_encoder() is None  # queries stay on torch: nothing written
    assert not (tmp_path / "cache").exists()
    # and a changed file gives a new key: an export is never read for another model
    assert query_encoder.model_key(Path(resolve_model("all-MiniLM-L6-v2"))) is not None


_SEARCH = r"""
import json, sys
from vidrag.api.settings import Settings
from vidrag.api.wiring import open_library
library = open_library(Settings(home=sys.argv[1]))
hits = library.search("how does rain form", k=3)
print(json.dumps({"torch": "torch" in sys.modules, "sentence_transformers": "sentence_transformers" in sys.modules,
                  "hits": [[h.video_id, h.start, h.score] for h in hits]}))
"""


def test_a_search_only_process_never_imports_torch(sample_library, sample_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    done = subprocess.run(
        [sys.executable, "-c", _SEARCH, str(home)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert (child["torch"], child["sentence_transformers"]) == (False, False)
    here = [[h.video_id, h.start, h.score] for h in sample_library.search("how does rain form", k=3)]
    assert child["hits"] == here
