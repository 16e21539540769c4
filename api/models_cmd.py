"""`vidrag models`: fetch model weights (resumable) and list what is on this machine.

`download NAME [--variant V] [--dest DIR]` looks NAME up in `vidrag.indexing.model_registry.MODELS`,
prints how much disk it needs before starting, checks the hub can be reached (failing fast when
offline), then fetches with `huggingface_hub.snapshot_download`, which resumes partial downloads.
Without `--dest` files go to the Hugging Face cache, where the captioners find them by hub id;
with it, each repository goes to DIR/<repo name>, and the printed path is what
`VIDRAG_CAPTIONER_MODEL` takes. `list` reports models in the Hugging Face cache (and in `--dir`
folders) with sizes; `--json` for machines. Errors are vidrag errors; the CLI's `main` prints them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any, TypedDict

import typer

from vidrag.indexing.model_registry import GB, MODELS, RepoSpec, entry_for_repo, get_model, repos_for, weights_present
from vidrag.storage.errors import BackendUnavailable, InputError, NotFound

models_app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Download and list model weights."
)


def _hub() -> Any:  # Any: the huggingface_hub module (loaded on first use), used by attribute
    try:
        import huggingface_hub
        import huggingface_hub.constants
    except ImportError as err:  # pragma: no cover - a dependency of transformers
        raise BackendUnavailable("`pip install huggingface-hub` to download models.") from err
    return huggingface_hub


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _check_hub_reachable(repo_id: str) -> str:
    """The hub endpoint, after checking it answers for `repo_id`.

    Raises:
        BackendUnavailable: offline mode is set, or the endpoint cannot be reached.
        NotFound: the hub has no such repository (or it is gated for this token).
    """
    hub = _hub()
    if hub.constants.HF_HUB_OFFLINE:
        raise BackendUnavailable(
            "HF_HUB_OFFLINE=1 is set, so nothing can be downloaded. Unset it on a machine with "
            "internet access, or copy the model folder here and point VIDRAG_CAPTIONER_MODEL at it."
        )
    import httpx

    endpoint: str = hub.constants.ENDPOINT.rstrip("/")
    try:
        response = httpx.get(f"{endpoint}/api/models/{repo_id}", timeout=10.0, follow_redirects=True)
    except httpx.HTTPError as err:
        raise BackendUnavailable(
            f"Cannot reach the model hub at {endpoint} ({type(err).__name__}: {err}). Check the "
            "network or set HF_ENDPOINT to a mirror; a partial download resumes on the next try."
        ) from err
    if response.status_code in (401, 403, 404):
        raise NotFound(
            f"{endpoint} has no model {repo_id!r} for this account (HTTP {response.status_code}); "
            "check the name, or log in with `huggingface-cli login` for gated models."
        )
    return endpoint


def _exact_bytes(spec: RepoSpec) -> int:
    """Total file size from the hub, or the registry estimate when the hub will not say."""
    try:
        info = _hub().HfApi().model_info(spec.repo_id, revision=spec.revision, files_metadata=True)
        sizes = [s.size or 0 for s in info.siblings or []]
        return sum(sizes) or spec.approx_bytes
    except Exception:  # noqa: BLE001 - any hub hiccup falls back to the estimate
        return spec.approx_bytes


@models_app.command("download")
def download(
    name: Annotated[str, typer.Argument(help=f"Model to fetch: {', '.join(sorted(MODELS))}.")],
    variant: Annotated[str | None, typer.Option("--variant", help="e.g. int4 or awq; default full precision.")] = None,
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder to download into; default the HF cache.")] = None,
) -> None:
    """Download a model's weights (resumable); prints where they are.

    Raises:
        InputError: unknown model/variant, or not enough free disk.
        BackendUnavailable: offline, or the hub cannot be reached.
    """
    entry = get_model(name)
    specs = repos_for(name, variant)
    chosen = (variant or entry.default_variant).lower()
    target = dest.expanduser() if dest else Path(_hub().constants.HF_HUB_CACHE)
    estimate = sum(s.approx_bytes for s in specs)
    repos = ", ".join(s.repo_id for s in specs)
    typer.echo(
        f"{entry.name} ({chosen}): {repos}; needs about {estimate / GB:.1f} GB of disk, "
        f"{_free_bytes(target) / GB:.1f} GB free at {target}.",
        err=True,
    )
    if entry.needs:
        typer.echo(f"Runs with: {entry.needs}", err=True)
    _check_hub_reachable(specs[0].repo_id)
    needed = sum(_exact_bytes(s) for s in specs)
    if needed > _free_bytes(target):
        raise InputError(
            f"{entry.name} ({chosen}) needs {needed / GB:.1f} GB but {target} has "
            f"{_free_bytes(target) / GB:.1f} GB free; free space or pass --dest on a larger disk."
        )
    for spec in specs:
        local_dir = str(target / spec.repo_id.split("/")[-1]) if dest else None
        path = _hub().snapshot_download(
            spec.repo_id, revision=spec.revision, allow_patterns=list(spec.allow_patterns or []) or None,
            local_dir=local_dir,
        )  # fmt: skip
        typer.echo(path)
    typer.echo(f"Done. Use it with VIDRAG_CAPTIONER_MODEL={specs[0].repo_id if not dest else path}.", err=True)


def _cached_rows(cache_dir: Path | None) -> list[ModelRow]:
    hub = _hub()
    try:
        info = hub.scan_cache_dir(cache_dir)
    except hub.CacheNotFound:
        return []
    rows = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        snapshots = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        path = snapshots[0].snapshot_path if snapshots else repo.repo_path
        rows.append(_row(repo.repo_id, Path(path), repo.size_on_disk, "hf-cache"))
    return rows


class ModelRow(TypedDict):
    """A model found on this machine, as `vidrag models list` shows it."""

    repo_id: str
    name: str | None
    variant: str | None
    size_bytes: int
    size_gb: float
    complete: bool
    path: str
    source: str


def _row(repo_id: str, path: Path, size: int, source: str) -> ModelRow:
    known = entry_for_repo(repo_id)
    return ModelRow(
        repo_id=repo_id,
        name=known[0].name if known else None,
        variant=known[1] if known else None,
        size_bytes=int(size),
        size_gb=round(size / GB, 2),
        complete=weights_present(path),
        path=str(path),
        source=source,
    )


def _folder_rows(folder: Path) -> list[ModelRow]:
    rows = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if (child / "config.json").is_file() or (child / "model_index.json").is_file():
            size = sum(f.stat().st_size for f in child.rglob("*") if f.is_file())
            rows.append(_row(child.name, child, size, "folder"))
    return rows


@models_app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="HF cache to scan; default the usual one.")
    ] = None,
    folders: Annotated[list[Path] | None, typer.Option("--dir", help="Also scan this folder (repeatable).")] = None,
) -> None:
    """List models present on this machine, with sizes and whether their weights are complete."""
    rows = _cached_rows(cache_dir)
    for folder in folders or []:
        if folder.is_dir():
            rows += _folder_rows(folder)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No models found locally. Fetch one with `vidrag models download minicpm-v-4.5`.", err=True)
        return
    for row in rows:
        label = f"{row['name']} ({row['variant']})" if row["name"] else "-"
        state = "complete" if row["complete"] else "incomplete"
        typer.echo(f"{row['repo_id']:<40} {row['size_gb']:>8.2f} GB  {state:<10} {label:<24} {row['path']}")
