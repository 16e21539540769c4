"""Ingest on Ray Data: the stages of `stages`, spread over the workers of a Ray cluster.

The driver expands the paths and asks the catalog what is already done (as `Indexer.ingest` does);
the videos left become a Ray Data dataset, one video per block, that flows through three actor
pools, so each worker loads its models once:

- analyse (CPU, one per core): probe and hash, the decode pass beside speech recognition, the plan;
- caption: one GPU per worker for the in-process MiniCPM-V captioner, else a little CPU (the
  describer; the OpenAI/vLLM captioner, whose own client bounds its requests per server);
- embed: dense and sparse vectors, and with a Qdrant server the upsert itself.

With a server every embed worker writes its video's points (ids are uuid5 of content hash and span,
so a retried batch overwrites); with an embedded store (one process per folder) the driver is the
single writer. Either way the driver records each video in the catalog as its result arrives, so a
rerun after a crash redoes only what is missing. A video that fails on a worker comes back with its
error and the rest go on. Ray restarts a worker that dies and retries its video.

Ray is imported only here, and only when a Ray ingest runs (`pip install 'vidrag[ray]'`).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vidrag.indexing import stages
from vidrag.indexing.graph import LIGHT_CPUS, IngestResult, Needs, caption_needs, failed_work
from vidrag.indexing.pipeline import Indexer
from vidrag.indexing.stages import StageConfig, VideoWork
from vidrag.storage.errors import BackendUnavailable

log = logging.getLogger(__name__)

PartFactory = Callable[..., Any]
"""build(part, **options) on a worker: part is 'transcriber', 'ocr', 'captioner', 'embedder' or
'store' (the server store for direct writes, given dim=...). Must pickle: e.g. a functools.partial
of a module-level function."""

RunProgress = Callable[[IngestResult, int, int], None]
"""progress(result, done, total) as each video's result reaches the driver."""


@dataclass(frozen=True)
class RayPlan:
    """How many workers each stage gets and what each one reserves."""

    analyse_workers: int
    caption_workers: int
    caption_gpus: float
    caption_cpus: float
    embed_workers: int
    direct_write: bool

    @classmethod
    def for_cluster(
        cls,
        resources: dict[str, float],
        caption: Needs,
        *,
        workers: int = 0,
        caption_workers: int = 0,
        direct_write: bool = False,
        captioner_name: str = "",
    ) -> RayPlan:
        """Size the pools to the cluster from what the stages declare (`graph.caption_needs`): a GPU
        captioner gets one worker per GPU, the analyse stage every CPU the other stages leave.

        Raises:
            BackendUnavailable: the captioner needs a GPU, and the cluster has none.
        """
        cpus, gpus = resources.get("CPU", 1.0), int(resources.get("GPU", 0))
        if caption.gpus:
            if gpus < 1:
                who = f"VIDRAG_CAPTIONER={captioner_name}" if captioner_name else "The captioner"
                raise BackendUnavailable(
                    f"{who} on Ray needs GPU workers, and the Ray cluster has none; "
                    "join a cluster with GPU nodes (--ray ADDRESS) or caption through a vLLM server "
                    "(VIDRAG_CAPTIONER=openai)."
                )
            count = caption_workers or caption.workers or int(gpus // caption.gpus)
        else:
            count = caption_workers or caption.workers or 1
        analyse = workers or max(1, math.floor(cpus - count * caption.cpus - LIGHT_CPUS))
        return cls(analyse, count, caption.gpus, caption.cpus, 1, direct_write)

    def cpus(self) -> int:
        """Logical CPUs a local cluster needs to host every pool at once."""
        return math.ceil(self.analyse_workers + self.caption_workers * self.caption_cpus + LIGHT_CPUS)


# workers ----------------------------------------------------------------------------------------


def _pack(work: VideoWork) -> dict[str, bytes]:
    return {"work": pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)}


def _unpack(row: dict[str, Any]) -> VideoWork:
    return pickle.loads(row["work"])


class _Stage(ABC):
    """A Ray Data class UDF: builds its models once per worker (in the subclass's constructor), then
    runs its stage on each video. A video that already failed passes through; a failure here is
    caught and travels on with it.
    """

    def __init__(self, config: StageConfig) -> None:
        self.config = config

    def __call__(self, row: dict[str, Any]) -> dict[str, bytes]:
        work = _unpack(row)
        if not work.error:
            try:
                work = self.run(work)
            except Exception as err:  # noqa: BLE001 - reported by the driver, like the single-process pipeline does
                log.warning("%s failed on a Ray worker: %s", work.path, err)
                work = failed_work(work, err)
        return _pack(work)

    @abstractmethod
    def run(self, work: VideoWork) -> VideoWork:
        """This stage's part of one video."""


class AnalyseStage(_Stage):
    """Probe and hash, decode pass beside speech recognition, clip plan."""

    def __init__(self, build: PartFactory, config: StageConfig) -> None:
        super().__init__(config)
        self.transcriber, self.ocr = build("transcriber"), build("ocr")
        self.transcriber.load()

    def run(self, work: VideoWork) -> VideoWork:
        work = stages.probe_and_hash(work.path)
        self.config.analyse(work, self.transcriber, self.ocr)
        return work


class CaptionStage(_Stage):
    """Captions, a batch of clips per call; the caption frames are dropped after."""

    def __init__(self, build: PartFactory, config: StageConfig) -> None:
        super().__init__(config)
        self.captioner = build("captioner")
        self.captioner.check()

    def run(self, work: VideoWork) -> VideoWork:
        self.config.caption(work, self.captioner)
        return work


class EmbedStage(_Stage):
    """Vectors; with a server store, the write as well."""

    def __init__(self, build: PartFactory, config: StageConfig, direct_write: bool) -> None:
        super().__init__(config)
        self.embedder = build("embedder")
        self.embedder.load()
        self.store = build("store", dim=self.embedder.dim) if direct_write else None

    def run(self, work: VideoWork) -> VideoWork:
        self.config.embed(work, self.embedder)
        if self.store is not None:
            stages.write(work, self.store)
        return work


# driver -----------------------------------------------------------------------------------------


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, initialised for the block: joined at `address` ('auto' finds a running cluster, or
    ray://host:10001), else a local cluster sized to this machine (or to `num_cpus`). A session
    already open in this process is used as it is and left open.

    Raises:
        BackendUnavailable: Ray is not installed, or no cluster answers at `address`.
    """
    try:
        import ray
    except ImportError as err:
        raise BackendUnavailable("Ray is not installed; run `pip install 'vidrag[ray]'`.") from err
    if ray.is_initialized():
        yield ray
        return
    local = address in (None, "", "local")
    try:
        ray.init(
            address=None if local else address,
            num_cpus=num_cpus if local else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise BackendUnavailable(
            f"No Ray cluster answers at {address!r} ({err}); start one with `ray start --head`, or "
            "give no address to run a local one."
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()


def ingest_on_ray(
    indexer: Indexer,
    paths: Iterable[str | Path],
    *,
    build: PartFactory,
    address: str | None = None,
    workers: int = 0,
    caption_workers: int = 0,
    direct_write: bool = False,
    progress: RunProgress | None = None,
) -> list[IngestResult]:
    """Ingest files and folders on Ray; the same results (and stored points) as `indexer.ingest`.

    Args:
        indexer: the driver's indexer: its catalog, store and settings key decide what to skip and
            record what finished; its models are not used (workers build their own with `build`).
        build: makes a worker's models and, with `direct_write`, its server store.
        address: the Ray cluster ('auto', 'ray://host:10001'), or None for a local one.
        workers: analyse workers (0 = every CPU the light stages leave).
        caption_workers: caption workers (0 = one per GPU for MiniCPM-V, else 1, or 2 for a server).
        direct_write: workers upsert to a Qdrant server; otherwise the driver writes.

    Raises:
        BackendUnavailable, ModelMissing: the captioner cannot start, or Ray cannot.
    """
    if not indexer.captioner.uses_gpu:  # a GPU model is checked on its GPU workers
        indexer.captioner.check()
    files, results = indexer.expand(paths)
    todo: list[Path] = []
    for path in files:
        done = indexer.rules.triage(path)
        if done is None:
            todo.append(path)
        else:
            results.append(done)
    if not todo:
        return results
    local_cpus = max(os.cpu_count() or 1, workers + 2) if workers else None  # used only if Ray starts here
    with indexer.store.bulk(), ray_session(address, num_cpus=local_cpus) as ray:
        plan = RayPlan.for_cluster(
            ray.cluster_resources(),
            caption_needs(indexer.captioner, indexer.requested_batch),
            workers=workers,
            caption_workers=caption_workers,
            direct_write=direct_write,
            captioner_name=indexer.captioner.name,
        )
        log.info("Ray ingest of %d videos: %s", len(todo), plan)
        config = replace(indexer.config, decoders=1)  # a worker a CPU: the worker is the parallelism
        for work in _run(ray, todo, plan, build, config):
            results.append(indexer.rules.finish(work))
            if progress:
                progress(results[-1], len(results), len(files))
    return results


def _run(ray: Any, todo: list[Path], plan: RayPlan, build: PartFactory, config: StageConfig) -> Iterator[VideoWork]:
    """The videos' works, in the order they finish."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows its own
    pool = ray.data.ActorPoolStrategy
    items = [_pack(VideoWork(str(path))) for path in todo]
    dataset = ray.data.from_items(items, override_num_blocks=len(items))  # one video per task
    dataset = dataset.map(
        AnalyseStage,
        fn_constructor_kwargs={"build": build, "config": config},
        compute=pool(size=plan.analyse_workers),
        num_cpus=1,
    )
    dataset = dataset.map(
        CaptionStage,
        fn_constructor_kwargs={"build": build, "config": config},
        compute=pool(size=plan.caption_workers),
        num_cpus=plan.caption_cpus,
        num_gpus=plan.caption_gpus or None,
    )
    dataset = dataset.map(
        EmbedStage,
        fn_constructor_kwargs={"build": build, "config": config, "direct_write": plan.direct_write},
        compute=pool(size=plan.embed_workers),
        num_cpus=LIGHT_CPUS,
    )
    started = time.perf_counter()
    for row in dataset.iter_rows():
        yield _unpack(row)
    log.info("Ray pipeline ran %d videos in %.1f s", len(todo), time.perf_counter() - started)
