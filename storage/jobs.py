"""Background job rows (ingests, talking-head generation), kept in the catalog's `jobs` table.

The schema is the catalog's (its migrations create the table); this is the only code that reads or
writes it. Dict columns (params, progress, result) are stored as JSON.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict, cast

from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import NotFound
from vidrag.storage.types import JSON

if TYPE_CHECKING:
    import sqlite3

UNFINISHED = ("queued", "running")
_JSON_COLUMNS = ("params", "progress", "result")


class Job(TypedDict):
    """A job row: its kind and status, the params it was given, its progress and result (JSON columns),
    the error it ended with, and when it was created and last updated (epoch seconds)."""

    id: str
    kind: str
    status: str
    params: dict[str, JSON]
    progress: dict[str, JSON]
    result: dict[str, JSON]
    error: str | None
    created: float
    updated: float


class JobStore:
    """Create, read and update job rows."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def add(
        self, kind: str, params: Mapping[str, JSON], *, status: str = "queued", result: Mapping[str, JSON] | None = None
    ) -> Job:
        """Store a new job and return it."""
        job_id, now = uuid.uuid4().hex, time.time()
        self.catalog.execute(
            "INSERT INTO jobs (id, kind, status, params, progress, result, error, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
            (
                job_id,
                kind,
                status,
                json.dumps(params),
                json.dumps({"stage": status}),
                json.dumps(result or {}),
                now,
                now,
            ),
        )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """One job as a dict.

        Raises:
            NotFound: no job has that id.
        """
        rows = self.catalog.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"Unknown job id {job_id!r}; GET /jobs lists the jobs.")
        return _job(rows[0])

    def latest(self, limit: int = 100, status: str | None = None) -> list[Job]:
        """The latest jobs, newest first, optionally only those with one status."""
        if status:
            rows = self.catalog.execute(
                "SELECT * FROM jobs WHERE status = ? ORDER BY created DESC LIMIT ?", (status, limit)
            )
        else:
            rows = self.catalog.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        return [_job(row) for row in rows]

    def unfinished(self) -> list[str]:
        """Ids of jobs left queued or running (by a stopped or crashed process), oldest first."""
        rows = self.catalog.execute("SELECT id FROM jobs WHERE status IN (?, ?) ORDER BY created", UNFINISHED)
        return [row["id"] for row in rows]

    def update(self, job_id: str, **fields: JSON) -> None:
        """Set some columns of a job row and its `updated` time."""
        unknown = set(fields) - {"status", "error", *_JSON_COLUMNS}
        if unknown:
            raise ValueError(f"not job columns: {sorted(unknown)}")
        fields["updated"] = time.time()
        for name in _JSON_COLUMNS:
            if name in fields:
                fields[name] = json.dumps(fields[name], default=str)
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.catalog.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    for name in _JSON_COLUMNS:
        data[name] = json.loads(data[name] or "{}")
    return cast(Job, data)
