"""Clip captioners behind one interface, chosen by name.

`describer` (the offline default) composes measured signals; `minicpm` runs MiniCPM-V-4.5 in
process; `openai` calls an OpenAI-compatible server such as vLLM serving MiniCPM-V-4.5; `vllm` runs
MiniCPM-V-4.5 through vLLM's offline engine in process (a GPU box with `vidrag[vllm]`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vidrag.indexing.captioners.base import Caption, Captioner, ClipFrames
from vidrag.storage.errors import InputError


@dataclass(frozen=True)
class Registered:
    """How to build one captioner: its class ("module:Class", imported only when built) and the
    captioner options it takes, as {constructor keyword: option name} (the option names are those of
    `captioner_from_options`, the `VIDRAG_CAPTIONER_*` settings without their prefix)."""

    target: str
    takes: dict[str, str] = field(default_factory=dict)


CAPTIONERS: dict[str, Registered] = {
    "describer": Registered("vidrag.indexing.describe:Describer"),
    "minicpm": Registered(
        "vidrag.indexing.captioners.minicpm:MiniCPMCaptioner",
        {
            "model": "model",
            "packing": "packing",
            "batch": "batch",
            "device": "device",
            "max_new_tokens": "max_new_tokens",
            "fps": "fps",
            "vision_attention": "vision",
        },
    ),
    "openai": Registered(
        "vidrag.indexing.captioners.openai_server:OpenAICaptioner",
        {"url": "url", "model": "model", "api_key": "api_key", "fps": "fps"},
    ),
    "vllm": Registered(
        "vidrag.indexing.captioners.openai_server:VLLMOfflineCaptioner",
        {"model": "model", "max_tokens": "max_new_tokens", "fps": "fps"},
    ),
}


def make_captioner(name: str, **options: Any) -> Captioner:
    """Build the captioner registered under `name` with keyword options (its constructor's).

    Raises:
        InputError: the name is not registered.
    """
    module_name, class_name = _registered(name).target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)


def captioner_from_options(name: str, options: Mapping[str, Any]) -> Captioner:
    """Build the captioner registered under `name` from the general captioner options (url, model,
    api_key, fps, packing, batch, device, max_new_tokens, vision): each takes those its entry names, and an
    option that is None is left to the captioner's default.

    Raises:
        InputError: the name is not registered.
    """
    takes = _registered(name).takes
    chosen = {keyword: options[option] for keyword, option in takes.items() if options.get(option) is not None}
    return make_captioner(name, **chosen)


def _registered(name: str) -> Registered:
    entry = CAPTIONERS.get(name)
    if entry is None:
        known = ", ".join(sorted(CAPTIONERS))
        raise InputError(f"Unknown captioner {name!r}; known captioners: {known}.")
    return entry


__all__ = [
    "CAPTIONERS",
    "Caption",
    "Captioner",
    "ClipFrames",
    "Registered",
    "captioner_from_options",
    "make_captioner",
]
