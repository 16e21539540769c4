"""Query-time dense vectors without torch: the sentence model exported once to ONNX, run by onnxruntime.

Importing torch and sentence-transformers costs several seconds on a small machine, so a cold `vidrag
search` spent most of its time before it read a query. The first time the sentence model is loaded
(at ingest, or the first query of an older library) its transformer is exported to ONNX under the
library's cache, keyed by the model's files, and checked against the torch model on probe sentences;
from then on every query-time text (search queries, the sentences an answer compares) is embedded by
onnxruntime with the model's own tokenizer, mean pooling and unit length, as sentence-transformers
does. Documents are still embedded by the torch model at ingest (batched, on a GPU where there is one).

Only models made of Transformer → mean Pooling → Normalize (all-MiniLM-L6-v2 and most sentence
models) are exported; any other keeps using torch for queries. Without the `onnx` package (needed to
export) or onnxruntime (needed to run) queries use torch, as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Export format version: a change to how the graph is exported or read gives new files, never a
# stale one read the new way.
_FORMAT = 1
_EXPECTED = (
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
)
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The export is kept only if, on these texts embedded as one padded batch, no component differs from
# the torch model's by more than TOLERANCE.
PROBES = (
    "How many engineers will be hired this spring?",
    "a",
    "The yeast eats the sugars in the flour and releases carbon dioxide, which inflates the dough. " * 12,
    "Slide: The Three-Way Handshake · Client sends SYN · Server answers SYN-ACK",
)
TOLERANCE = 1e-4


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def model_key(folder: Path) -> str | None:
    """A key for the model in `folder` (its configuration, tokenizer and weights), or None when the
    folder is not a model that can be exported (another layout, other pooling, no weights)."""
    try:
        modules = _read_json(folder / "modules.json")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
    except (OSError, ValueError):
        return None
    if tuple(module.get("type") for module in modules) != _EXPECTED or modules[0].get("path", "") != "":
        return None
    modes = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value]
    if modes != ["pooling_mode_mean_tokens"] or not (folder / "tokenizer.json").is_file():
        return None
    weights = next((folder / name for name in _WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        return None
    digest = hashlib.sha256(f"vidrag-query-encoder-{_FORMAT}".encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json"):
        if (folder / name).is_file():
            digest.update(name.encode() + (folder / name).read_bytes())
    size = weights.stat().st_size
    with weights.open("rb") as handle:  # the size and both ends of the weights, not all 90 MB of them
        head = handle.read(1 << 20)
        handle.seek(max(0, size - (1 << 20)))
        tail = handle.read()
    digest.update(f"{weights.name}:{size}".encode() + head + tail)
    return digest.hexdigest()[:24]


def max_length(folder: Path) -> int:
    try:
        return int(_read_json(folder / "sentence_bert_config.json").get("max_seq_length") or 512)
    except (OSError, ValueError):
        return 512


class QueryEncoder:
    """Unit-length dense vectors from an exported sentence model (one onnxruntime thread, no spinning:
    a query is a few milliseconds of work, and a server runs several at once)."""

    def __init__(self, onnx_path: Path, folder: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # as sentence-transformers calls its tokenizer: truncate to the model's length, pad to the longest
        self.tokenizer.enable_truncation(max_length(folder))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        [hidden] = self.session.run(["last_hidden_state"], {k: v for k, v in feed.items() if k in self.inputs})
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def exported_path(folder: Path, cache_dir: Path) -> Path | None:
    """Where the export of the model in `folder` lives under `cache_dir`, or None if it cannot have one."""
    key = model_key(folder)
    return None if key is None else cache_dir / "query-encoder" / f"{key}.onnx"


def open_exported(folder: Path, cache_dir: Path) -> QueryEncoder | None:
    """The query encoder for the model in `folder` if it was exported (and onnxruntime runs), else None."""
    path = exported_path(folder, cache_dir)
    if path is None or not path.is_file():
        return None
    try:
        return QueryEncoder(path, folder)
    except ImportError:
        return None
    except Exception as err:  # noqa: BLE001 - a damaged export: queries fall back to torch and it is rebuilt
        log.warning("The query encoder %s could not be opened (%s); exporting it again.", path, err)
        path.unlink(missing_ok=True)
        return None


def export(model: Any, folder: Path, cache_dir: Path) -> QueryEncoder | None:
    """Export a loaded SentenceTransformer's transformer to ONNX under `cache_dir`, check it against
    the torch model on `PROBES`, and return its encoder; None (and nothing kept) when it cannot be
    exported or does not agree."""
    path = exported_path(folder, cache_dir)
    if path is None:
        return None
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import onnxruntime  # noqa: F401
    except ImportError:
        log.info("onnx or onnxruntime is not installed: queries are embedded with torch.")
        return None
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.partial")
    transformer = model[0].auto_model
    prepare = getattr(model, "preprocess", None) or model.tokenize  # preprocess: sentence-transformers 5.x
    batch = prepare(list(PROBES[:2]))  # a padded batch, so the graph keeps the mask's path
    example = tuple(batch[name].to(transformer.device) for name in _INPUTS if name in batch)
    names = [name for name in _INPUTS if name in batch]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on constants in the mask code: checked below
            torch.onnx.export(
                transformer,
                example,
                str(partial),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        encoder = QueryEncoder(partial, folder)
        want = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        got = encoder.encode(PROBES)
        gap = float(np.abs(want - got).max())
        if gap > TOLERANCE:
            log.warning("The ONNX export of %s differs from torch by %.2g; queries stay on torch.", folder, gap)
            return None
        partial.replace(path)
        log.info("Exported %s for query-time embedding to %s (largest gap %.1g).", folder.name, path, gap)
        return QueryEncoder(path, folder)
    except Exception as err:  # noqa: BLE001 - exporting is an optimisation; torch still answers
        log.warning("The sentence model could not be exported to ONNX (%s); queries stay on torch.", err)
        return None
    finally:
        partial.unlink(missing_ok=True)
