"""State integrity: does the store hold what the catalog says was indexed?

The catalog (SQLite) and the clip store (a Qdrant folder or server) live apart, so one can be lost
without the other: a deleted or emptied `qdrant` folder, a server collection dropped, a copy of the
home made without it. `check` compares them video by video — the points the catalog expects (one
per clip plus the video's summary point) against the points the store holds — and `IntegrityReport`
says what is missing and the fix. `vidrag doctor` prints it, `/ready` and the library's open report
it, and ingest rebuilds a video whose points are missing even when its file is unchanged
(`points_missing`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from vidrag.storage.catalog import Catalog
from vidrag.storage.qdrant_store import ClipStore, Where

INDEXED = ("indexed", "partial")
"""Catalog statuses whose clips must be in the store ("partial": a file indexed as far as it decoded)."""


def expected_points(clip_count: int) -> int:
    """Points an indexed video has in the store: one per clip and one for the whole video's summary."""
    return clip_count + 1


@dataclass
class VideoState:
    """One indexed video: the points the catalog expects and those the store holds."""

    video_id: str
    path: str
    status: str
    expected: int
    stored: int

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.stored)


@dataclass
class IntegrityReport:
    """The catalog compared with the store."""

    store_points: int
    videos: list[VideoState] = field(default_factory=list)
    orphans: dict[str, int] = field(default_factory=dict)  # video id -> points of videos the catalog lacks

    @property
    def damaged(self) -> list[VideoState]:
        """Indexed videos whose points are (partly) missing from the store."""
        return [video for video in self.videos if video.missing]

    @property
    def ok(self) -> bool:
        return not self.damaged

    def summary(self) -> str:
        """One paragraph: what is wrong and the fix, or that the store matches the catalog."""
        damaged = self.damaged
        if not damaged:
            extra = f"; {sum(self.orphans.values())} points of videos no longer listed" if self.orphans else ""
            return f"{_videos(len(self.videos))} indexed, {self.store_points} points in the store: consistent{extra}."
        lost = sum(video.missing for video in damaged)
        whole = "the store is empty" if self.store_points == 0 else f"the store lacks {lost} of their points"
        names = ", ".join(f"{v.video_id} ({v.stored}/{v.expected} points)" for v in damaged[:3])
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        return (
            f"The catalog lists {_videos(len(damaged))} as indexed whose clips are missing from the store ({whole}): "
            f"{names}{more}. Search cannot find them until they are rebuilt: run `vidrag doctor --repair` "
            "(or `vidrag ingest` on their files), or restore the `qdrant` folder of VIDRAG_HOME from a backup."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "store_points": self.store_points,
            "videos": [{**asdict(v), "missing": v.missing} for v in self.videos],
            "damaged": [v.video_id for v in self.damaged],
            "orphans": self.orphans,
            "summary": self.summary(),
        }


def _videos(count: int) -> str:
    return f"{count} video" if count == 1 else f"{count} videos"


def check(catalog: Catalog, store: ClipStore) -> IntegrityReport:
    """Compare every indexed video of the catalog with the points of the store (one scroll of the store).

    Raises:
        BackendUnavailable: the store cannot be read.
    """
    per_video: Counter[str] = Counter()
    for _, payload in store._scroll(Where()):
        per_video[str(payload.get("video_id", ""))] += 1
    report = IntegrityReport(store_points=sum(per_video.values()))
    listed: set[str] = set()
    for record in catalog.list_videos():
        listed.add(record.id)
        if record.status in INDEXED:
            report.videos.append(
                VideoState(
                    record.id, record.path, record.status, expected_points(record.clip_count), per_video[record.id]
                )
            )
    report.orphans = {vid: n for vid, n in sorted(per_video.items()) if vid not in listed}
    return report


def probably_whole(catalog: Catalog, store: ClipStore) -> bool:
    """A cheap first check (two counts, no scroll): the store holds at least as many points as the
    catalog's indexed videos need. False means points are missing; True can still hide a video whose
    points are lost while other points are left over, which only `check` sees."""
    marks = ", ".join("?" for _ in INDEXED)
    rows = catalog.execute(f"SELECT COALESCE(SUM(clip_count + 1), 0) FROM videos WHERE status IN ({marks})", INDEXED)
    return store.count() >= int(rows[0][0])


def points_missing(store: ClipStore, video_id: str, clip_count: int) -> bool:
    """Whether the store lacks points of an indexed video (so an unchanged file must be ingested again)."""
    return len(store.point_ids(video_id)) < expected_points(clip_count)
