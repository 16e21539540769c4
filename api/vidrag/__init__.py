"""vidrag: question a video library and get answers that cite the moments they came from.

The public Python API. Everything else lives in the layers below it: `vidrag.api` (settings, CLI,
REST), `vidrag.agent`, `vidrag.tools`, `vidrag.indexing` and `vidrag.storage`::

    import vidrag

    library = vidrag.open_library(vidrag.Settings(home="~/my-videos"), for_ingest=True)
    library.ingest(["talk.mp4"])
    print(vidrag.answer_question(library, "When is the budget discussed?")["answer"])

Names load on first use, so `import vidrag` stays cheap (the CLI starts from here). While `vidrag serve`
runs on the same home, `open_library` returns a client of that server (`vidrag.api.client.RemoteLibrary`:
videos, search, ingest, delete, ask), since the server owns the library; `open_library(..., server=False)`
insists on opening it in this process. For llama-index
apps, `vidrag.llama_index.VidragRetriever` turns a library into a retriever whose nodes cite moments.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Settings": "vidrag.api.settings",
    "open_library": "vidrag.api.client",
    "Library": "vidrag.tools.library",
    "answer_question": "vidrag.api.client",
}

__all__ = ["Library", "Settings", "__version__", "answer_question", "open_library"]

if TYPE_CHECKING:
    from vidrag.api.client import answer_question, open_library
    from vidrag.api.settings import Settings
    from vidrag.tools.library import Library


def __getattr__(name: str) -> object:  # PEP 562: import a public name on first use
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vidrag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
