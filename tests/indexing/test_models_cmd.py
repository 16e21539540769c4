"""`vidrag models download|list` and the model registry, offline (HF_HUB_OFFLINE=1 from conftest)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vidrag.api.models_cmd as models_cmd
from vidrag.api.models_cmd import models_app
from vidrag.indexing.model_registry import (
    MODELS,
    ModelEntry,
    RepoSpec,
    download_hint,
    get_model,
    local_snapshot,
    register_model,
    repos_for,
)
from vidrag.storage.errors import BackendUnavailable, InputError

runner = CliRunner()


def fake_cache(root: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """A Hugging Face cache entry laid out like the real one (blobs, refs, snapshot symlinks)."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot


def test_download_offline_fails_fast_after_saying_what_it_needs(tmp_path):
    started = time.monotonic()
    result = runner.invoke(models_app, ["download", "minicpm-v-4.5", "--dest", str(tmp_path)])
    assert isinstance(result.exception, BackendUnavailable)
    assert "HF_HUB_OFFLINE" in str(result.exception)
    assert "needs about 17.4 GB" in result.stderr and "openbmb/MiniCPM-V-4_5" in result.stderr
    assert time.monotonic() - started < 5
    assert list(tmp_path.iterdir()) == []


def test_download_knows_the_variants():
    result = runner.invoke(models_app, ["download", "minicpm-v-4.5", "--variant", "int4"])
    assert "openbmb/MiniCPM-V-4_5-int4" in result.stderr and "about 9.0 GB" in result.stderr
    result = runner.invoke(models_app, ["download", "minicpm-v-4.5", "--variant", "fp8"])
    assert isinstance(result.exception, InputError) and "bf16, int4, awq" in str(result.exception)
    result = runner.invoke(models_app, ["download", "llava"])
    assert isinstance(result.exception, InputError) and "minicpm-v-4.5" in str(result.exception)


def test_download_resumes_into_dest_when_the_hub_answers(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(models_cmd, "_check_hub_reachable", lambda repo: "https://hub.example")
    monkeypatch.setattr(models_cmd, "_exact_bytes", lambda spec: 1000)

    class Hub:
        constants = models_cmd._hub().constants

        @staticmethod
        def snapshot_download(repo_id, **kwargs):
            calls.append((repo_id, kwargs))
            return kwargs["local_dir"]

    monkeypatch.setattr(models_cmd, "_hub", lambda: Hub)
    result = runner.invoke(models_app, ["download", "minicpm", "--variant", "awq", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls == [
        (
            "openbmb/MiniCPM-V-4_5-AWQ",
            {"revision": None, "allow_patterns": None, "local_dir": str(tmp_path / "MiniCPM-V-4_5-AWQ")},
        )
    ]
    assert result.stdout.strip() == str(tmp_path / "MiniCPM-V-4_5-AWQ")

    monkeypatch.setattr(models_cmd, "_free_bytes", lambda folder: 10)
    result = runner.invoke(models_app, ["download", "minicpm-v-4.5", "--dest", str(tmp_path)])
    assert isinstance(result.exception, InputError) and "free" in str(result.exception)


def test_list_reports_cached_models_with_sizes(tmp_path):
    weights = b"\0" * 4096
    index = json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    )
    fake_cache(tmp_path, "openbmb/MiniCPM-V-4_5", {
        "config.json": b"{}", "model.safetensors.index.json": index.encode(),
        "model-00001-of-00002.safetensors": weights, "model-00002-of-00002.safetensors": weights + b"1",
    })  # fmt: skip
    fake_cache(
        tmp_path, "openbmb/MiniCPM-V-4_5-int4", {"config.json": b"{}", "model.safetensors.index.json": index.encode()}
    )

    result = runner.invoke(models_app, ["list", "--json", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {row["repo_id"]: row for row in json.loads(result.stdout)}
    full, int4 = rows["openbmb/MiniCPM-V-4_5"], rows["openbmb/MiniCPM-V-4_5-int4"]
    assert (full["name"], full["variant"], full["complete"]) == ("minicpm-v-4.5", "bf16", True)
    assert full["size_bytes"] >= 2 * 4096 and full["source"] == "hf-cache"
    assert (int4["variant"], int4["complete"]) == ("int4", False)

    text = runner.invoke(models_app, ["list", "--cache-dir", str(tmp_path)]).stdout
    assert "openbmb/MiniCPM-V-4_5 " in text and "complete" in text and "incomplete" in text

    # the captioner finds the complete snapshot by hub id, never the incomplete one
    assert local_snapshot("openbmb/MiniCPM-V-4_5", cache_dir=tmp_path).name == full["path"].split("/")[-1]
    assert local_snapshot("openbmb/MiniCPM-V-4_5-int4", cache_dir=tmp_path) is None


def test_list_scans_download_folders_and_says_when_empty(tmp_path):
    folder = tmp_path / "models" / "MiniCPM-V-4_5"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    result = runner.invoke(
        models_app, ["list", "--json", "--cache-dir", str(tmp_path / "none"), "--dir", str(tmp_path / "models")]
    )
    (row,) = json.loads(result.stdout)
    assert row["complete"] and row["source"] == "folder" and row["size_bytes"] == 12
    empty = runner.invoke(models_app, ["list", "--cache-dir", str(tmp_path / "none")])
    assert "vidrag models download minicpm-v-4.5" in empty.stderr


def test_registry_lookup_hints_and_registration():
    assert get_model("MiniCPM").name == "minicpm-v-4.5"
    assert repos_for("minicpm-v-4.5")[0].repo_id == "openbmb/MiniCPM-V-4_5"
    assert download_hint("openbmb/MiniCPM-V-4_5") == "vidrag models download minicpm-v-4.5"
    assert download_hint("someone/else") == "huggingface-cli download someone/else"
    with pytest.raises(InputError, match="default variant"):
        register_model(ModelEntry("x", "x", {"a": (RepoSpec("o/x", 1),)}, default_variant="b"))
    register_model(ModelEntry("tiny-test", "t", {"main": (RepoSpec("o/tiny", 1),)}, default_variant="main"))
    try:
        assert download_hint("o/tiny") == "vidrag models download tiny-test"
    finally:
        MODELS.pop("tiny-test")
