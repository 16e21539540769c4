"""Multi-turn conversations: each session's turns kept in a JSON file under the library's home.

A turn holds the question, the answer, its checked citations and the mode that answered. The LLM path
replays the turns as chat history; the extractive path uses the last question and citations to
resolve short follow-ups ("and after that?"). Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from vidrag.storage.errors import InputError
from vidrag.storage.types import CitationJson

if TYPE_CHECKING:
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_TURNS = 20


class Turn(TypedDict):
    """One question and its answer as a session file keeps it."""

    question: str
    answer: str
    citations: list[CitationJson]
    mode: str


class SessionStore:
    """Sessions as `<folder>/<id>.json` files, each a list of turns (oldest first)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def for_library(cls, library: Library) -> SessionStore:
        """The store in the library's data folder (`<home>/sessions`)."""
        return cls(library.data_dir / "sessions")

    def _path(self, session_id: str) -> Path:
        if not _ID.match(session_id or ""):
            raise InputError(
                f"Bad session id {session_id!r}; use 1-64 letters, digits, '.', '_' or '-' (e.g. --session my-talk)."
            )
        return self.folder / f"{session_id}.json"

    def load(self, session_id: str) -> list[Turn]:
        """The turns of a session (empty for a new one).

        Raises:
            InputError: a malformed id, or a session file that is not valid JSON.
        """
        path = self._path(session_id)
        if not path.is_file():
            return []
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"Session file {path} is corrupt ({err}); delete it to start over.") from err
        return list(data.get("turns", []))

    def append(self, session_id: str, turn: Turn) -> None:
        """Add a turn, keeping the last `MAX_TURNS`.

        Raises:
            InputError: a malformed id.
        """
        path = self._path(session_id)
        turns = (self.load(session_id) + [turn])[-MAX_TURNS:]
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps({"id": session_id, "turns": turns}, indent=1, default=str))
        partial.replace(path)
        log.debug("session %s: %d turns", session_id, len(turns))
