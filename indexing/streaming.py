"""The in-process executor of the stage graph: decode, analysis and speech overlap the captioning.

One thread runs the analyse stage (probe and hash, the decode pass with its decoder threads beside
speech recognition, the clip plan) video after video. Each video's clips go to the calling thread
through a bounded queue as soon as they settle (`stages.ClipRelease`: once its speech is heard,
while its frames are still decoded), and the calling thread captions them, then embeds and writes
the video. So captioning starts long before a long video is decoded, the next video is decoded while
this one is captioned, and memory holds the queues, not whole videos.
What to skip, how a failure is recorded and how a video is finished are the graph's `Rules`, the
same the Ray executor follows; results come back in the order of the files.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidrag.indexing import heap, stages
from vidrag.indexing.graph import IngestResult
from vidrag.indexing.stages import StageProgress, VideoWork

if TYPE_CHECKING:  # pragma: no cover
    from vidrag.indexing.pipeline import Indexer

Progress = Callable[[str, str, float, float], None]


class ProgressRelay:
    """Passes on the progress of the video the caller is working on; the latest report of a video the
    analyse stage reached early is held, and passed on when the caller turns to that video (so a
    progress display sees one video at a time, as it would from a sequential run)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.current: str | None = None
        self.held: dict[str, tuple[str, float, float]] = {}
        self.lock = threading.Lock()

    def for_video(self, path: str) -> StageProgress:
        def report(stage: str, done: float, total: float) -> None:
            if self.progress is None:
                return
            with self.lock:
                if path == self.current:
                    self.progress(path, stage, done, total)
                else:
                    self.held[path] = (stage, done, total)

        return report

    def focus(self, path: str) -> None:
        """The caller turns to this video: pass on what it missed of it."""
        with self.lock:
            self.current = path
            held = self.held.pop(path, None)
            if held is not None and self.progress is not None:
                self.progress(path, *held)


_END = object()  # a video's analyse stage is done


class _Failed:
    def __init__(self, err: Exception) -> None:
        self.err = err


@dataclass
class _Handle:
    """A video the analyse stage has begun: its work, and the clips it settles, in order."""

    path: Path
    work: VideoWork | None
    clips: queue.Queue[Any]
    error: Exception | None = None


def stream(indexer: Indexer, files: list[Path], progress: Progress | None = None) -> Iterator[IngestResult]:
    """Each file's result, in order: the skip rule first (in this thread), then the analyse stage in
    its own thread, releasing each video's clips as they settle, and caption, embed and write here."""
    triaged = [(path, _triage(indexer, path)) for path in files]
    todo = [path for path, done in triaged if done is None]
    relay = ProgressRelay(progress)
    ready: queue.Queue[_Handle] = queue.Queue(maxsize=1)
    stop = threading.Event()
    args = (indexer, todo, relay, ready, stop)
    worker = threading.Thread(target=_analyse_all, args=args, name="analyse", daemon=True)
    worker.start()
    finished = False
    try:
        for path, done in triaged:
            if done is not None:
                yield done
                continue
            relay.focus(str(path))
            yield _finish(indexer, ready.get(), relay.for_video(str(path)))
        finished = True
    finally:
        stop.set()  # an interrupted run leaves the worker (a daemon) to stop at its next put
        if finished:
            worker.join()


def _triage(indexer: Indexer, path: Path) -> IngestResult | None:
    try:
        return indexer.rules.triage(path)
    except Exception as err:  # noqa: BLE001 - a failure, even an unexpected one, must not stop the batch
        return indexer.fail(path, err)


def _put(target: queue.Queue[Any], item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            target.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _analyse_all(
    indexer: Indexer, todo: list[Path], relay: ProgressRelay, ready: queue.Queue[_Handle], stop: threading.Event
) -> None:
    size = max(1, indexer.config.caption_batch)
    for path in todo:
        if stop.is_set():
            return
        handle = _Handle(path, None, queue.Queue(maxsize=2 * size))
        _analyse_one(indexer, handle, relay.for_video(str(path)), ready, stop)


def _analyse_one(
    indexer: Indexer, handle: _Handle, report: StageProgress, ready: queue.Queue[_Handle], stop: threading.Event
) -> None:
    """One video's analyse stage; a failure goes to the caller with the video (no exception object
    stays in this frame: its traceback would hold the frame, and the frame the indexer and its store)."""
    try:
        report("hash", 0.0, 1.0)
        work = stages.probe_and_hash(handle.path)
        indexer.rules.begin(work)
        handle.work = work
    except Exception as err:  # noqa: BLE001 - recorded by the caller, the batch goes on
        handle.error = err
    _put(ready, handle, stop)
    if handle.work is None:
        return
    failed: _Failed | None = None
    try:
        release = partial(_put_clips, handle.clips, stop)
        indexer.config.analyse(handle.work, indexer.transcriber, indexer.ocr, report, release=release)
    except Exception as err:  # noqa: BLE001 - recorded by the caller, the batch goes on
        failed = _Failed(err)
    _put(handle.clips, failed or _END, stop)
    del failed


def _put_clips(target: queue.Queue[Any], stop: threading.Event, clips: object) -> None:
    _put(target, clips, stop)


def _feed(handle: _Handle) -> Iterator[object]:
    """The clips the analyse stage releases for one video, until it is done; its error, raised."""
    while True:
        item = handle.clips.get()
        if item is _END:
            return
        if isinstance(item, _Failed):
            err, item = item.err, None
            raise err
        if item is stages.RESTART:
            yield item
        else:
            yield from item


def _finish(indexer: Indexer, handle: _Handle, report: StageProgress) -> IngestResult:
    if handle.error is not None or handle.work is None:
        err, handle.error = handle.error, None
        return indexer.fail(handle.path, err)
    work = handle.work
    try:
        indexer.config.caption(work, indexer.captioner, report, planned=_feed(handle))
        indexer.config.embed(work, indexer.embedder)
        result = indexer.finish(work)
    except Exception as err:  # noqa: BLE001 - a failure, even an unexpected one, must not stop the batch
        return indexer.fail(Path(work.path), err)
    report("store", 1.0, 1.0)
    heap.trim()
    return result
