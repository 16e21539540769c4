"""The layering contract (api → agent → tools → indexing → storage) and imports from the checkout."""

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LAYERS = ["storage", "indexing", "tools", "agent", "api"]


@pytest.mark.parametrize("package", LAYERS)
def test_packages_import_from_this_checkout(package):
    module = importlib.import_module(f"vidrag.{package}")
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_no_generic_top_level_names_are_installed(tmp_path):
    # In a fresh interpreter outside the checkout (pytest puts the checkout itself on sys.path).
    code = f"import importlib.util; print([n for n in {LAYERS!r} if importlib.util.find_spec(n)])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_layers_import_downward_only(tmp_path):
    # grimp only reads top-level packages from disk: check the wheel's layout, vidrag/<layer>/...
    package = tmp_path / "vidrag"
    shutil.copytree(ROOT / "api" / "vidrag", package)
    for layer in [*LAYERS, "samples"]:
        shutil.copytree(ROOT / layer, package / layer, ignore=shutil.ignore_patterns("vidrag", "__pycache__"))
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers import downward only KEPT" in result.stdout
    assert "Only the CLI uses the sample generator KEPT" in result.stdout
    assert "The MCP server does not import the app KEPT" in result.stdout
    analyzed = int(result.stdout.split("Analyzed ")[1].split()[0])
    assert analyzed >= 60, result.stdout  # the whole tree was read, not just the facade


def test_importing_the_cli_loads_no_heavy_library():
    heavy = ("torch", "transformers", "qdrant_client", "cv2")
    code = f"import sys, vidrag.api.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_api_and_agent_use_the_library_boundary_only():
    # The catalog, the vector store and the embedder are the Library's own; consumers call its methods.
    import ast

    reached = []
    for layer in ("api", "agent"):
        for path in (ROOT / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("catalog", "store", "embedder")
                    and not (isinstance(node.value, ast.Name) and node.value.id == "settings")
                ):
                    reached.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert reached == []
