"""The Ray Data ingest against the single-process one, on a local Ray cluster (2 CPUs, no dashboard):
the same points from the same files, a bad file reported, a worker killed mid-run and a rerun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tests import media
from vidrag.api.wiring import open_library, worker_part
from vidrag.indexing.captioners.minicpm import MiniCPMCaptioner
from vidrag.indexing.captioners.openai_server import OpenAICaptioner
from vidrag.indexing.describe import Describer
from vidrag.indexing.distributed import RayPlan
from vidrag.indexing.graph import Needs, caption_needs
from vidrag.indexing.pipeline import IngestResult, throughput
from vidrag.storage.edge_store import EdgeClipStore
from vidrag.storage.errors import BackendUnavailable
from vidrag.storage.qdrant_store import Where

ROOT = Path(__file__).resolve().parents[2]
PART = ("first_aid_cpr.mp4", "bikes.mp4")  # a spoken lecture with slides, and real footage without audio


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # the ray extra is part of the test extra: missing, these tests fail rather than skip

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _points(store: EdgeClipStore, video_id: str) -> dict[str, tuple[dict, dict]]:
    """Every point of a video: id -> (payload, vectors)."""
    edge = store._edge
    flt = edge.Filter(must=[edge.FieldCondition("video_id", match=edge.MatchValue(video_id))])
    records, _ = store.shard.scroll(edge.ScrollRequest(limit=10_000, filter=flt, with_payload=True, with_vector=True))
    return {str(r.id): (r.payload, r.vector) for r in records}


def test_ray_ingest_stores_what_the_single_process_stores_and_reports_a_bad_file(
    ray_cluster, sample_dir, sample_library, sample_settings, tmp_path
):
    bad = media.text_as_mp4(tmp_path)
    settings = sample_settings.model_copy(update={"home": tmp_path / "home"})
    library = open_library(settings, for_ingest=True)
    try:
        results = library.ingest_on_ray(
            [sample_dir / name for name in PART] + [bad], build=partial(worker_part, settings)
        )
        by_name = {Path(r.path).name: r for r in results}
        assert by_name[bad.name].status == "failed"
        assert "not a readable media file" in by_name[bad.name].error and str(bad.resolve()) in by_name[bad.name].error
        assert library.catalog.failures()[str(bad.resolve())] == by_name[bad.name].error
        for name in PART:
            ray_result = by_name[name]
            assert ray_result.status == "indexed", ray_result.error
            expected = sample_library.video(name)
            assert ray_result.video_id == expected.id and ray_result.clips == expected.clip_count
            record = library.video(name)
            assert (record.status, record.cuts, record.summary, record.duration, record.language) == (
                "indexed",
                expected.cuts,
                expected.summary,
                expected.duration,
                expected.language,
            )
            _assert_same_points(_points(library.store, expected.id), _points(sample_library.store, expected.id))
        again = library.ingest_on_ray([sample_dir / name for name in PART], build=partial(worker_part, settings))
        assert [r.status for r in again] == ["unchanged", "unchanged"]  # decided by the catalog, before Ray
    finally:
        library.close()


def _assert_same_points(got: dict, want: dict) -> None:
    assert set(got) == set(want) and len(want) > 1
    for point_id, (payload, vectors) in want.items():
        got_payload, got_vectors = got[point_id]
        assert got_payload == payload
        np.testing.assert_allclose(got_vectors["dense"], vectors["dense"], atol=1e-5)
        sparse, got_sparse = vectors["sparse"], got_vectors["sparse"]
        assert (got_sparse.indices, got_sparse.values) == (sparse.indices, sparse.values)


def _ingest(home: Path, folder: Path, *flags: str, crash_marker: Path | None = None) -> list[dict]:
    """`vidrag ingest --quiet --json FOLDER FLAGS` in its own process; with `crash_marker`, through
    `_CRASHING_INGEST` instead (`--ray` runs only)."""
    command = [sys.executable, "-m", "vidrag.api.cli", "ingest", "--quiet", "--json", str(folder), *flags]
    if crash_marker is not None:
        command = [sys.executable, "-c", _CRASHING_INGEST, str(crash_marker), *command[4:]]
    environment = {**os.environ, "VIDRAG_HOME": str(home), "VIDRAG_SEGMENT__MAX_CLIP": "6"}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=ROOT, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["results"]


_CRASHING_INGEST = """
import os, sys
from pathlib import Path

import ray

from vidrag.api.cli import main

MARKER = Path(sys.argv[1])


def die_at_the_second_video():
    # In each Ray worker: the process dies as it starts its second video, once (while MARKER is absent).
    from vidrag.indexing import stages

    probe, started = stages.probe_and_hash, [0]

    def probe_or_die(path):
        started[0] += 1
        if started[0] == 2 and not MARKER.exists():
            MARKER.touch()
            os._exit(9)
        return probe(path)

    stages.probe_and_hash = probe_or_die


# the local cluster `vidrag ingest --ray --workers 1` starts, plus the hook; the ingest uses it as it is
ray.init(
    num_cpus=max(os.cpu_count() or 1, 3),
    include_dashboard=False,
    log_to_driver=False,
    runtime_env={"worker_process_setup_hook": die_at_the_second_video},
)
sys.argv = ["vidrag", "ingest", *sys.argv[2:]]
main()
"""
"""`vidrag ingest` (arguments after the marker path) on a local Ray cluster whose workers die at their
second video once: the fault comes from the test, through Ray's worker setup hook."""


def _stored(home: Path) -> dict[str, dict]:
    store = EdgeClipStore(home / "qdrant" / "vidrag_clips", dim=384)
    try:
        return {pid: payload for pid, payload in store._scroll(Where())}
    finally:
        store.close()


@pytest.mark.slow
def test_a_worker_killed_mid_run_and_a_rerun_leave_the_state_of_a_clean_run(tmp_path, sample_dir):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("bigbuckbunny.mp4", "bikes.mp4"):
        shutil.copy(sample_dir / name, folder / name)
    marker = tmp_path / "crashed"
    crashed = _ingest(tmp_path / "ray", folder, "--ray", "--workers", "1", crash_marker=marker)
    assert marker.exists()  # the analyse worker died at its second video
    rerun = _ingest(tmp_path / "ray", folder, "--ray", "--workers", "1")
    clean = _ingest(tmp_path / "clean", folder)
    assert all(r["status"] == "indexed" for r in clean)
    # Ray restarts the worker and retries its video; whatever the first run left, the rerun completes it.
    assert {r["status"] for r in crashed} <= {"indexed", "failed"}
    assert {r["path"]: r["status"] for r in rerun if r["status"] != "unchanged"}.keys() == {
        r["path"] for r in crashed if r["status"] != "indexed"
    }
    assert _stored(tmp_path / "ray") == _stored(tmp_path / "clean")


@pytest.mark.slow  # ~11 s: a CLI process that loads the embedder
def test_plain_ingest_never_imports_ray(tmp_path):
    script = (
        "import sys; from vidrag.api.cli import main\n"
        f"sys.argv = ['vidrag', 'ingest', '--quiet', {str(media.zero_length(tmp_path))!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('ray imported' if 'ray' in sys.modules else 'no ray')\n"
    )
    env = {**os.environ, "VIDRAG_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "no ray", done.stderr
    assert "empty" in done.stderr  # the ingest did run


def test_pools_are_sized_to_the_cluster_from_what_the_captioner_declares():
    describer = caption_needs(Describer())
    plan = RayPlan.for_cluster({"CPU": 16.0}, describer)
    assert (plan.analyse_workers, plan.caption_workers, plan.caption_gpus, plan.embed_workers) == (15, 1, 0.0, 1)
    assert plan.cpus() == 16
    minicpm = caption_needs(MiniCPMCaptioner(), 16)
    assert minicpm == Needs(gpus=1.0, cpus=1.0, workers=0, batch=64)  # 4 calls' worth of clips a chunk
    gpu = RayPlan.for_cluster({"CPU": 64.0, "GPU": 4.0}, minicpm, direct_write=True)
    assert (gpu.caption_workers, gpu.caption_gpus, gpu.caption_cpus, gpu.analyse_workers) == (4, 1.0, 1.0, 59)
    client = caption_needs(OpenAICaptioner(url="http://localhost:8000/v1"))
    server = RayPlan.for_cluster({"CPU": 8.0}, client, workers=3)
    assert (server.analyse_workers, server.caption_workers, server.caption_gpus) == (3, 2, 0.0)
    assert RayPlan.for_cluster({"CPU": 2.0}, describer).analyse_workers == 1
    with pytest.raises(BackendUnavailable, match="VIDRAG_CAPTIONER=minicpm on Ray needs GPU"):
        RayPlan.for_cluster({"CPU": 8.0}, minicpm, captioner_name="minicpm")


def test_throughput_adds_each_stage_busy_time_over_videos():
    results = [
        IngestResult(
            "/a.mp4", "indexed", "a", clips=4, duration=20.0, timings={"asr": 2.0, "decode": 1.0, "hash": 0.0}
        ),
        IngestResult("/b.mp4", "indexed", "b", clips=6, duration=30.0, timings={"asr": 3.0, "decode": 1.5}),
        IngestResult("/c.mp4", "unchanged", "c", clips=9, duration=90.0),
        IngestResult("/d.mp4", "failed", error="bad"),
    ]
    summary = throughput(results, wall_s=10.0)
    assert (summary["indexed"], summary["unchanged"], summary["failed"]) == (2, 1, 1)
    assert (summary["media_s"], summary["media_s_per_s"]) == (50.0, 5.0)
    asr = summary["stages"]["asr"]
    rates = (asr["busy_s"], asr["videos"], asr["clips"], asr["media_s_per_s"], asr["clips_per_s"])
    assert rates == (5.0, 2, 10, 10.0, 2.0)
    assert summary["stages"]["decode"]["media_s_per_s"] == 20.0
    assert summary["stages"]["hash"]["media_s_per_s"] is None  # no measurable time, no rate
