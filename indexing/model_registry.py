"""Models vidrag knows how to fetch, and where their files are found locally.

`MODELS` maps a short name (what `vidrag models download NAME` takes) to its variants, each a tuple
of Hugging Face repositories with approximate download sizes. Other stages add their models with
`register_model`. `local_snapshot` finds a model's files without touching the network: a local
folder, or a complete snapshot in the Hugging Face cache; callers raise `ModelMissing` with
`download_hint` when it finds nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vidrag.storage.errors import InputError

logger = logging.getLogger(__name__)

GB = 1_000_000_000


@dataclass(frozen=True)
class RepoSpec:
    """One Hugging Face repository to fetch.

    Attributes:
        repo_id: owner/name on the hub.
        approx_bytes: download size estimate, used when the hub cannot be asked for exact sizes.
        revision: branch, tag or commit; None for the default branch.
        allow_patterns: only fetch matching files; None for all.
    """

    repo_id: str
    approx_bytes: int
    revision: str | None = None
    allow_patterns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelEntry:
    """A downloadable model: its variants (e.g. bf16, int4), each one or more repositories."""

    name: str
    description: str
    variants: dict[str, tuple[RepoSpec, ...]]
    default_variant: str
    needs: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_FRAMEPACK_SHARED = (
    RepoSpec(
        "hunyuanvideo-community/HunyuanVideo",
        int(17.0 * GB),
        allow_patterns=(
            "model_index.json",
            "text_encoder/*",
            "text_encoder_2/*",
            "tokenizer/*",
            "tokenizer_2/*",
            "vae/*",
            "scheduler/*",
        ),
    ),
    RepoSpec(
        "lllyasviel/flux_redux_bfl",
        int(0.9 * GB),
        allow_patterns=("image_encoder/*", "feature_extractor/*"),
    ),
)
"""Repos every FramePack variant shares (only the parts FramePack uses)."""

MODELS: dict[str, ModelEntry] = {
    "minicpm-v-4.5": ModelEntry(
        name="minicpm-v-4.5",
        description="MiniCPM-V-4.5 (8.7B): video captioning and questions about clips.",
        variants={
            "bf16": (RepoSpec("openbmb/MiniCPM-V-4_5", int(17.4 * GB)),),
            "int4": (RepoSpec("openbmb/MiniCPM-V-4_5-int4", int(9.0 * GB)),),
            "awq": (RepoSpec("openbmb/MiniCPM-V-4_5-AWQ", int(9.0 * GB)),),
        },
        default_variant="bf16",
        needs="bf16: ~18 GB GPU memory; int4 (bitsandbytes) / awq (AutoAWQ or vLLM): ~9 GB.",
        aliases=("minicpm", "minicpm-v", "minicpm-v-4_5", "openbmb/minicpm-v-4_5"),
    ),
    # FramePack talking heads (tools.talking_head): the transformer, HunyuanVideo's text encoders /
    # tokenizers / VAE / scheduler (not its own transformer), and the SigLIP image encoder.
    "framepack": ModelEntry(
        name="framepack",
        description="FramePack I2V (HunyuanVideo 13B, inverted anti-drifting sampling): talking heads.",
        variants={
            "bf16": (
                RepoSpec("lllyasviel/FramePackI2V_HY", int(25.7 * GB)),
                *_FRAMEPACK_SHARED,
            ),
        },
        default_variant="bf16",
        needs="~44 GB disk; GPU: >=60 GB free runs it whole, 32 GB with model offload, less with group offload.",
        aliases=("framepack-i2v", "lllyasviel/framepacki2v_hy"),
    ),
    "framepack-f1": ModelEntry(
        name="framepack-f1",
        description="FramePack-F1 (forward 'vanilla' sampling; no end frame): talking heads.",
        variants={
            "bf16": (
                RepoSpec("lllyasviel/FramePack_F1_I2V_HY_20250503", int(25.7 * GB)),
                *_FRAMEPACK_SHARED,
            ),
        },
        default_variant="bf16",
        needs="~44 GB disk; same GPU memory as framepack.",
        aliases=("framepack_f1", "lllyasviel/framepack_f1_i2v_hy_20250503"),
    ),
}
"""Known models by short name. Sizes are estimates; `vidrag models download` asks the hub when it can."""


def register_model(entry: ModelEntry) -> None:
    """Add (or replace) a model entry, e.g. from another stage's module.

    Raises:
        InputError: the default variant is not one of the entry's variants.
    """
    if entry.default_variant not in entry.variants:
        raise InputError(
            f"Model {entry.name!r}: default variant {entry.default_variant!r} is not one of {sorted(entry.variants)}."
        )
    MODELS[entry.name] = entry


def get_model(name: str) -> ModelEntry:
    """The entry registered under `name` (or one of its aliases), case-insensitive.

    Raises:
        InputError: no such model; the message lists the known names.
    """
    key = name.strip().lower()
    for entry in MODELS.values():
        if key == entry.name.lower() or key in entry.aliases:
            return entry
    known = ", ".join(sorted(MODELS))
    raise InputError(f"Unknown model {name!r}; known models: {known}.")


def repos_for(name: str, variant: str | None = None) -> tuple[RepoSpec, ...]:
    """The repositories of a model's variant (its default variant when None).

    Raises:
        InputError: unknown model or variant.
    """
    entry = get_model(name)
    chosen = (variant or entry.default_variant).lower()
    if chosen not in entry.variants:
        raise InputError(f"Model {entry.name!r} has no variant {variant!r}; variants: {', '.join(entry.variants)}.")
    return entry.variants[chosen]


def entry_for_repo(repo_id: str) -> tuple[ModelEntry, str] | None:
    """The (entry, variant) that fetches `repo_id`, if any (case-insensitive)."""
    for entry in MODELS.values():
        for variant, specs in entry.variants.items():
            if any(spec.repo_id.lower() == repo_id.lower() for spec in specs):
                return entry, variant
    return None


def download_hint(repo_id: str) -> str:
    """The command that fetches `repo_id`, for error messages."""
    found = entry_for_repo(repo_id)
    if found is None:
        return f"huggingface-cli download {repo_id}"
    entry, variant = found
    suffix = "" if variant == entry.default_variant else f" --variant {variant}"
    return f"vidrag models download {entry.name}{suffix}"


def weights_present(folder: Path) -> bool:
    """Whether `folder` holds a config and complete weights (every shard of a sharded checkpoint)."""
    if not (folder / "config.json").is_file():
        return False
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text())["weight_map"].values())
            except (OSError, ValueError, KeyError):
                return False
            return all((folder / shard).is_file() for shard in shards)
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def local_snapshot(repo_id: str, *, cache_dir: str | Path | None = None, revision: str | None = None) -> Path | None:
    """The local folder holding `repo_id` with complete weights, or None; never uses the network.

    `repo_id` may itself be a folder. Otherwise the Hugging Face cache (or `cache_dir`) is searched.
    """
    as_path = Path(repo_id).expanduser()
    if as_path.is_dir():
        return as_path if weights_present(as_path) else None
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return None
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        logger.debug("%s is not in the local cache: %s", repo_id, err)
        return None
    return folder if weights_present(folder) else None
