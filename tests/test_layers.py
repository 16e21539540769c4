"""The layering contract (api → agent → tools → indexing → storage) and imports from the checkout."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("package", ["storage", "indexing", "tools", "agent", "api"])
def test_packages_import_from_this_checkout(package):
    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_layers_import_downward_only():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers import downward only KEPT" in result.stdout


def test_importing_the_cli_loads_no_heavy_library():
    code = "import sys, api.cli; print(sorted(m for m in ('torch','transformers','qdrant_client','cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
