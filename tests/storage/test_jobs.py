"""JobStore: job rows in a real SQLite catalog."""

import pytest

from vidrag.storage.catalog import Catalog
from vidrag.storage.errors import NotFound
from vidrag.storage.jobs import JobStore


@pytest.fixture
def jobs(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    yield JobStore(catalog)
    catalog.close()


def test_a_job_round_trips_with_its_json_columns(jobs):
    job = jobs.add("ingest", {"paths": ["/v/a.mp4"]})
    assert job["status"] == "queued" and job["params"] == {"paths": ["/v/a.mp4"]}
    jobs.update(job["id"], status="running", progress={"stage": "asr", "percent": 12.5})
    again = jobs.get(job["id"])
    assert again["status"] == "running" and again["progress"] == {"stage": "asr", "percent": 12.5}
    assert again["updated"] >= job["updated"]


def test_unfinished_lists_queued_and_running_oldest_first(jobs):
    first = jobs.add("ingest", {})
    done = jobs.add("ingest", {}, status="done", result={"counts": {"indexed": 1}})
    second = jobs.add("talking_head", {})
    jobs.update(second["id"], status="running")
    assert jobs.unfinished() == [first["id"], second["id"]]
    assert jobs.get(done["id"])["result"] == {"counts": {"indexed": 1}}
    assert [j["id"] for j in jobs.latest(status="done")] == [done["id"]]
    assert len(jobs.latest(limit=2)) == 2


def test_unknown_ids_and_columns_are_errors(jobs):
    with pytest.raises(NotFound, match="GET /jobs"):
        jobs.get("nope")
    job = jobs.add("ingest", {})
    with pytest.raises(ValueError, match="not job columns"):
        jobs.update(job["id"], kind="other")


def test_jobs_survive_reopening_the_catalog(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    job_id = JobStore(catalog).add("ingest", {"paths": ["x"]})["id"]
    catalog.close()
    reopened = Catalog(tmp_path / "c.sqlite")
    assert JobStore(reopened).unfinished() == [job_id]
    reopened.close()
