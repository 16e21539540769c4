"""Clip captioners behind one interface, chosen by name.

`describer` (the offline default) composes measured signals; `minicpm` runs MiniCPM-V-4.5 in
process; `openai` calls an OpenAI-compatible server such as vLLM serving MiniCPM-V-4.5; `vllm` runs
MiniCPM-V-4.5 through vLLM's offline engine in process (a GPU box with `vidrag[vllm]`).
"""

from __future__ import annotations

import importlib
from typing import Any

from vidrag.indexing.captioners.base import Caption, Captioner, ClipFrames
from vidrag.storage.errors import InputError

CAPTIONERS: dict[str, str] = {
    "describer": "vidrag.indexing.describe:Describer",
    "minicpm": "vidrag.indexing.captioners.minicpm:MiniCPMCaptioner",
    "openai": "vidrag.indexing.captioners.openai_server:OpenAICaptioner",
    "vllm": "vidrag.indexing.captioners.openai_server:VLLMOfflineCaptioner",
}


def make_captioner(name: str, **options: Any) -> Captioner:
    """Build the captioner registered under `name` with keyword options.

    Raises:
        InputError: the name is not registered.
    """
    target = CAPTIONERS.get(name)
    if target is None:
        known = ", ".join(sorted(CAPTIONERS))
        raise InputError(f"Unknown captioner {name!r}; known captioners: {known}.")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)


__all__ = ["CAPTIONERS", "Caption", "Captioner", "ClipFrames", "make_captioner"]
