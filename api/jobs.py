"""Background jobs (ingests, talking-head generation): one worker thread, jobs kept in the catalog.

`POST /videos` stores a job row (`queued`) and returns at once; the worker takes jobs one at a time,
so ingests never overlap (the embedded Qdrant store must not be written from two threads at once),
and writes progress into the row as it goes. Rows left `queued` or `running` by a stopped or crashed
process are queued again when the next app starts, so ingestion survives a restart; the pipeline
itself is idempotent (deterministic point ids), so redoing a half-done video is safe.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from vidrag.storage.errors import FATAL, VidragError
from vidrag.storage.jobs import UNFINISHED, Job
from vidrag.storage.types import JSON

if TYPE_CHECKING:
    from vidrag.tools.library import Library

log = logging.getLogger(__name__)

_WRITE_LOCKS: weakref.WeakKeyDictionary[Library, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def write_lock(library: Library) -> threading.Lock:
    """The lock that serialises writes (ingests, deletes) to one library, shared by every app."""
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(library)
        if lock is None:
            lock = _WRITE_LOCKS[library] = threading.Lock()
        return lock


class IngestProgress(TypedDict, total=False):
    """An ingest job's progress: the stage and file at hand, files done of all, the stage's units done of
    its total, clips captioned of all (in the caption stage), and the percent of the whole job."""

    stage: str
    files_done: int
    files_total: int
    percent: float
    file: str
    done: float
    total: float
    clips_done: int
    clips_total: int


class _Reporter:
    """A progress callback that writes into the job row, at most a few times a second."""

    def __init__(self, manager: JobManager, job_id: str, files_total: int) -> None:
        self.manager, self.job_id = manager, job_id
        self.state = IngestProgress(stage="queued", files_done=0, files_total=files_total, percent=0.0)
        self._last = 0.0

    def file_done(self, count: int) -> None:
        self.state["files_done"] = count
        self.state["percent"] = round(100.0 * count / max(1, self.state["files_total"]), 1)
        self.flush()

    def __call__(self, path: str, stage: str, done: float, total: float) -> None:
        from vidrag.indexing.pipeline import progress_fraction

        files_total = max(1, self.state["files_total"])
        percent = 100.0 * (self.state["files_done"] + progress_fraction(stage, done, total)) / files_total
        changed = stage != self.state.get("stage")
        self.state["stage"], self.state["file"] = stage, Path(path).name
        self.state["done"], self.state["total"], self.state["percent"] = done, total, round(percent, 1)
        if stage == "caption":
            self.state["clips_done"], self.state["clips_total"] = int(done), int(total)
        if changed or time.monotonic() - self._last > 0.5:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        self.manager.update(self.job_id, progress=dict(self.state))


class JobManager:
    """Ingestion jobs over one library: submit, look up, and the worker that runs them."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.jobs = library.jobs
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._cancelled: set[str] = set()

    # rows -------------------------------------------------------------------------------------

    def submit(self, kind: str, params: Mapping[str, JSON], *, result: Mapping[str, JSON] | None = None) -> Job:
        """Store a job and queue it; with `result`, store it as already done (nothing to run)."""
        job = self.jobs.add(kind, params, status="done" if result is not None else "queued", result=result)
        if result is None:
            self._queue.put(job["id"])
        return job

    def get(self, job_id: str) -> Job:
        """One job as a dict.

        Raises:
            NotFound: no job has that id.
        """
        return self.jobs.get(job_id)

    def latest(self, limit: int = 100, status: str | None = None) -> list[Job]:
        """The latest jobs, newest first, optionally only those with one status."""
        return self.jobs.latest(limit, status)

    def cancel(self, job_id: str) -> Job:
        """Cancel a job: a queued one at once, a running talking-head job after its current denoising step.

        Returns:
            The job as it stands now (`cancelled`, or still `running` until the worker stops it).

        Raises:
            NotFound: no job has that id.
            InputError: the job has finished, or is an ingest (ingests run to the end; they are idempotent).
        """
        from vidrag.storage.errors import InputError

        job = self.get(job_id)
        if job["status"] not in UNFINISHED:
            raise InputError(f"Job {job_id} is already {job['status']}; only queued or running jobs can be cancelled.")
        if job["kind"] != "talking_head" and job["status"] == "running":
            raise InputError(f"Job {job_id} is a running ingest; ingests cannot be cancelled, only talking heads.")
        self._cancelled.add(job_id)
        if job["status"] == "queued":
            self.update(job_id, status="cancelled", progress={**(job.get("progress") or {}), "stage": "cancelled"})
        return self.get(job_id)

    def update(self, job_id: str, **fields: JSON) -> None:
        """Set some columns of a job row (dicts are stored as JSON) and its `updated` time."""
        self.jobs.update(job_id, **fields)

    # worker -----------------------------------------------------------------------------------

    def start(self) -> int:
        """Queue the jobs a previous process left unfinished, then start the worker.

        Returns:
            How many unfinished jobs were resumed.
        """
        unfinished = self.jobs.unfinished()
        for job_id in unfinished:
            self.update(job_id, status="queued", progress={"stage": "queued", "resumed": True})
            self._queue.put(job_id)
        if unfinished:
            log.info("resuming %d unfinished ingest job(s)", len(unfinished))
        self._thread = threading.Thread(target=self._work, name="vidrag-jobs", daemon=True)
        self._thread.start()
        return len(unfinished)

    def alive(self) -> bool:
        """Whether the worker thread is running (a health check)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; wait up to `timeout` for the current one (it is resumed next start if cut)."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the ingest worker is still busy; its job will be resumed on the next start")

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                if job_id is None:
                    return
                self._run(job_id)
            except BaseException as error:  # the worker must survive anything one job does, a panic too
                if isinstance(error, FATAL):
                    raise
                log.error("job %s crashed", job_id, exc_info=error)
            finally:
                self._queue.task_done()

    def _run(self, job_id: str) -> None:
        job = self.get(job_id)
        if job["status"] not in UNFINISHED or job_id in self._cancelled:
            return
        if job["kind"] == "talking_head":
            self._run_talking_head(job)
            return
        paths = list(cast("list[str]", job["params"].get("paths", [])))  # as `POST /videos` stored them
        reporter = _Reporter(self, job_id, len(paths))
        self.update(job_id, status="running", progress=reporter.state)
        results: list[dict[str, JSON]] = []
        try:
            for number, path in enumerate(paths, start=1):
                with write_lock(self.library):
                    results.extend(r.to_dict() for r in self.library.ingest([path], progress=reporter))
                reporter.file_done(number)
        except VidragError as err:
            self._finish(job_id, results, reporter, error=str(err))
            return
        except Exception as err:
            log.exception("ingest job %s failed", job_id)
            self._finish(job_id, results, reporter, error=f"unexpected error: {type(err).__name__}")
            return
        failed = [r for r in results if r["status"] == "failed"]
        error = "; ".join(str(r["error"]) for r in failed)[:2000] or None
        self._finish(job_id, results, reporter, error=error, all_failed=bool(results) and len(failed) == len(results))

    def _run_talking_head(self, job: Job) -> None:
        """Generate a talking-head mp4 (FramePack + voice) into the job's output path."""
        from vidrag.tools.talking_head import Cancelled, TalkingHeadRequest, generate_talking_head

        job_id = job["id"]
        state: dict[str, JSON] = {"stage": "generating", "done": 0, "total": 0, "percent": 0.0}
        self.update(job_id, status="running", progress=state)

        def progress(done: float, total: float) -> None:
            state.update(done=done, total=total, percent=round(100.0 * done / total, 1) if total else 0.0)
            self.update(job_id, progress=state)

        out = self.library.data_dir / "generated" / f"{job_id}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = generate_talking_head(
                TalkingHeadRequest.from_dict(job["params"]),
                out,
                progress=progress,
                should_stop=lambda: job_id in self._cancelled,
            )
        except Cancelled:
            self.update(job_id, status="cancelled", progress={**state, "stage": "cancelled"})
            return
        except VidragError as err:
            self.update(job_id, status="failed", error=str(err), progress={**state, "stage": "failed"})
            return
        except Exception as err:
            log.exception("talking-head job %s failed", job_id)
            self.update(
                job_id,
                status="failed",
                error=f"unexpected error: {type(err).__name__}",
                progress={**state, "stage": "failed"},
            )
            return
        self.update(job_id, status="done", result=result, progress={**state, "stage": "done", "percent": 100.0})

    def _finish(
        self,
        job_id: str,
        results: list[dict[str, JSON]],
        reporter: _Reporter,
        *,
        error: str | None,
        all_failed: bool = True,
    ) -> None:
        status = "failed" if error and all_failed else "done"
        reporter.state["stage"] = status
        reporter.state["percent"] = 100.0 if status == "done" else reporter.state["percent"]
        summary = {s: sum(r["status"] == s for r in results) for s in ("indexed", "unchanged", "failed")}
        self.update(
            job_id,
            status=status,
            error=error,
            progress=reporter.state,
            result={
                "files": results,
                "counts": summary,
                "video_ids": [r["video_id"] for r in results if r.get("video_id")],
            },
        )
        log.info("job %s %s: %s", job_id, status, summary)
