"""The catalog: a small SQLite database of videos (and jobs) next to the vector store.

It records what was ingested, from which file and content hash, with what result, so that an
interrupted ingest can resume and `vidrag videos` can answer without touching Qdrant. Schema
changes go through one ordered list of migrations.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from vidrag.storage.errors import NotFound
from vidrag.storage.types import VideoRecord

_MIGRATIONS: list[str] = [
    """
    CREATE TABLE videos (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        mtime REAL NOT NULL DEFAULT 0,
        duration REAL NOT NULL DEFAULT 0,
        fps REAL NOT NULL DEFAULT 0,
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        has_audio INTEGER NOT NULL DEFAULT 0,
        language TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        clip_count INTEGER NOT NULL DEFAULT 0,
        timings TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        summary TEXT NOT NULL DEFAULT '',
        settings_key TEXT NOT NULL DEFAULT '',
        updated REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX videos_path ON videos(path);
    """,
    """
    CREATE TABLE failures (
        path TEXT PRIMARY KEY,
        error TEXT NOT NULL,
        updated REAL NOT NULL
    );
    """,
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        progress TEXT NOT NULL DEFAULT '{}',
        result TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    """,
    "ALTER TABLE videos ADD COLUMN cuts TEXT NOT NULL DEFAULT '[]';",
    "ALTER TABLE videos ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';",
]

_VIDEO_COLUMNS = [name for name in VideoRecord.__dataclass_fields__]


class Catalog:
    """SQLite catalog of videos, failed inputs and jobs. Safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        """Apply the migrations this database lacks. Each runs in an IMMEDIATE transaction that reads the
        version again: two processes opening a new home at once apply each migration once."""
        with self._lock:
            while True:
                self._db.execute("BEGIN IMMEDIATE")
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version >= len(_MIGRATIONS):
                    self._db.execute("COMMIT")
                    return
                try:
                    for statement in _MIGRATIONS[version].split(";"):  # executescript would commit first
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run one statement under the catalog's lock and return its rows."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # videos -----------------------------------------------------------------------------------

    def upsert_video(self, record: VideoRecord) -> None:
        record.updated = time.time()
        values = record.to_dict()
        values["timings"] = json.dumps(values["timings"])
        values["cuts"] = json.dumps(values["cuts"])
        values["warnings"] = json.dumps(values["warnings"])
        values["has_audio"] = int(values["has_audio"])
        columns = ", ".join(_VIDEO_COLUMNS)
        marks = ", ".join(f":{name}" for name in _VIDEO_COLUMNS)
        updates = ", ".join(f"{name}=excluded.{name}" for name in _VIDEO_COLUMNS if name != "id")
        self.execute(
            f"INSERT INTO videos ({columns}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}",
            values,  # type: ignore[arg-type]
        )
        self.execute("DELETE FROM failures WHERE path = ?", (record.path,))

    def get_video(self, video_id: str) -> VideoRecord:
        """The record of one video by id.

        Raises:
            NotFound: no video has that id.
        """
        rows = self.execute("SELECT * FROM videos WHERE id = ?", (video_id,))
        if not rows:
            raise NotFound(f"Unknown video id {video_id!r}; `vidrag videos` lists the library.")
        return _record(rows[0])

    def find_video(self, key: str) -> VideoRecord:
        """Resolve a video given as id, id prefix, path or file name.

        Raises:
            NotFound: nothing matches, or a prefix or name matches several videos.
        """
        if not key.strip():
            raise NotFound("No video given (an empty name); `vidrag videos` lists the library.")
        rows = self.execute("SELECT * FROM videos WHERE id = ? OR path = ?", (key, key))
        if not rows:
            pattern = _like_literal(key)  # `%` and `_` in a key are characters, not wildcards
            rows = self.execute(
                "SELECT * FROM videos WHERE id LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\' OR path = ?",
                (f"{pattern}%", f"%/{pattern}", key),
            )
        if len(rows) == 1:
            return _record(rows[0])
        if not rows:
            raise NotFound(f"Unknown video {key!r}; `vidrag videos` lists the library.")
        names = ", ".join(f"{row['id']} ({row['path']})" for row in rows[:5])
        raise NotFound(f"Video {key!r} is ambiguous: it matches {names}; give the full id.")

    def videos_at_path(self, path: str) -> list[VideoRecord]:
        return [_record(row) for row in self.execute("SELECT * FROM videos WHERE path = ?", (path,))]

    def list_videos(self) -> list[VideoRecord]:
        return [_record(row) for row in self.execute("SELECT * FROM videos ORDER BY path")]

    def delete_video(self, video_id: str) -> None:
        self.execute("DELETE FROM videos WHERE id = ?", (video_id,))

    # failures ---------------------------------------------------------------------------------

    def record_failure(self, path: str, error: str) -> None:
        self.execute(
            "INSERT INTO failures (path, error, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET error=excluded.error, updated=excluded.updated",
            (path, error, time.time()),
        )

    def failures(self) -> dict[str, str]:
        return {row["path"]: row["error"] for row in self.execute("SELECT * FROM failures")}


def _like_literal(text: str) -> str:
    """`text` for a LIKE pattern with `\\` as the escape character: its `%`, `_` and `\\` match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(row: sqlite3.Row) -> VideoRecord:
    data = dict(row)
    data["timings"] = json.loads(data["timings"] or "{}")
    data["cuts"] = json.loads(data["cuts"] or "[]")
    data["warnings"] = json.loads(data["warnings"] or "[]")
    data["has_audio"] = bool(data["has_audio"])
    return VideoRecord(**data)
