"""The SQLite catalog: records, lookups by id/prefix/path/name, failures, migrations."""

import pytest

from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import NotFound
from vidrag.storage.types import VideoRecord


@pytest.fixture()
def catalog(tmp_path):
    return Catalog(tmp_path / "c.sqlite")


def test_roundtrip_and_lookup(catalog):
    catalog.upsert_video(
        VideoRecord(
            id="abcdef0123456789",
            path="/lib/talk.mp4",
            duration=12.5,
            timings={"asr": 1.5},
            has_audio=True,
            status="indexed",
            cuts=[3.2, 7.04],
        )
    )
    record = catalog.find_video("abcdef")
    assert (record.path, record.duration, record.timings, record.has_audio) == (
        "/lib/talk.mp4",
        12.5,
        {"asr": 1.5},
        True,
    )
    assert record.cuts == [3.2, 7.04]
    assert catalog.find_video("talk.mp4").id == "abcdef0123456789"
    assert catalog.find_video("/lib/talk.mp4").id == "abcdef0123456789"


def test_unknown_and_ambiguous_videos_are_explained(catalog):
    catalog.upsert_video(VideoRecord(id="aa11", path="/x/one.mp4"))
    catalog.upsert_video(VideoRecord(id="aa22", path="/x/two.mp4"))
    with pytest.raises(NotFound, match="vidrag videos"):
        catalog.find_video("zz")
    with pytest.raises(NotFound, match="ambiguous"):
        catalog.find_video("aa")


def test_failures_are_recorded_and_cleared_by_success(catalog):
    catalog.record_failure("/x/bad.mp4", "broken")
    assert catalog.failures() == {"/x/bad.mp4": "broken"}
    catalog.upsert_video(VideoRecord(id="b1", path="/x/bad.mp4"))
    assert catalog.failures() == {}


def test_reopening_keeps_data_and_schema_version(tmp_path):
    Catalog(tmp_path / "c.sqlite").upsert_video(VideoRecord(id="v1", path="/a.mp4"))
    reopened = Catalog(tmp_path / "c.sqlite")
    assert [r.id for r in reopened.list_videos()] == ["v1"]
    assert reopened.execute("PRAGMA user_version")[0][0] == 5
