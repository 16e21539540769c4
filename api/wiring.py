"""Assembling a Library from Settings: the only place that knows the defaults of every part."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.api.settings import Settings
from vidrag.storage.errors import BackendUnavailable

if TYPE_CHECKING:
    from llama_index.core.llms import LLM
    from qdrant_client import QdrantClient

    from vidrag.api.client import RemoteLibrary
    from vidrag.indexing.asr import Transcriber
    from vidrag.indexing.captioners.base import Captioner
    from vidrag.indexing.distributed import RunProgress
    from vidrag.indexing.embed import Embedder
    from vidrag.indexing.ocr import TextReader
    from vidrag.indexing.pipeline import Indexer, IngestResult
    from vidrag.storage.catalog import Catalog
    from vidrag.storage.index_policy import IndexPolicy
    from vidrag.storage.qdrant_store import ClipStore
    from vidrag.tools.library import Library

    WorkerPart = Transcriber | TextReader | None | Captioner | Embedder | ClipStore

log = logging.getLogger(__name__)


def qdrant_client(settings: Settings) -> QdrantClient:
    """A Qdrant client: the server at VIDRAG_QDRANT_URL, else embedded local mode under the home."""
    from qdrant_client import QdrantClient

    from vidrag.storage.errors import BackendUnavailable

    if settings.qdrant_url:
        return QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=30)
    local = settings.qdrant_path / "local"
    local.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(local))
    except RuntimeError as err:  # local mode allows one client per folder
        raise BackendUnavailable(
            f"The embedded Qdrant store at {local} is in use by another vidrag process "
            f"({err}); stop it (e.g. `vidrag serve`), or point VIDRAG_QDRANT_URL at a Qdrant server."
        ) from err


def index_policy(settings: Settings) -> IndexPolicy:
    """The index policy's defaults with the VIDRAG_INDEX_* settings that are given."""
    from dataclasses import replace

    from vidrag.storage.index_policy import DEFAULT_POLICY

    policy = DEFAULT_POLICY
    if settings.index_exact_below is not None:
        policy = replace(policy, exact_below=settings.index_exact_below)
    if settings.index_hnsw_ef is not None:
        policy = replace(policy, hnsw_ef=settings.index_hnsw_ef)
    if settings.index_quantization is not None:
        policy = replace(
            policy, quantization=None if settings.index_quantization == "none" else settings.index_quantization
        )
    return policy


def open_store(settings: Settings, dim: int) -> ClipStore:
    """The clip store: a Qdrant server at VIDRAG_QDRANT_URL, else the embedded one under the home.

    Raises:
        InputError: VIDRAG_STORE names no known embedded store.
    """
    from vidrag.storage.errors import InputError
    from vidrag.storage.qdrant_store import QdrantClientStore

    policy = index_policy(settings)

    if settings.qdrant_url or settings.store == "local":
        return QdrantClientStore(
            qdrant_client(settings),
            settings.collection,
            dim=dim,
            shards=settings.qdrant_shards,
            replication=settings.qdrant_replication,
            write_consistency=settings.qdrant_write_consistency,
            policy=policy,
        )
    if settings.store != "edge":
        raise InputError(f"Unknown VIDRAG_STORE {settings.store!r}; use 'edge' (default) or 'local'.")
    from vidrag.storage.edge_store import EdgeClipStore

    return EdgeClipStore(settings.qdrant_path / settings.collection, dim=dim, policy=policy)


def make_captioner(settings: Settings) -> Captioner:
    """The captioner VIDRAG_CAPTIONER names, built by the captioner registry from the
    VIDRAG_CAPTIONER_* settings it takes (a captioner_fps of 0 counts as unset)."""
    from vidrag.indexing.captioners import captioner_from_options

    options = {
        "url": settings.captioner_url,
        "model": settings.captioner_model,
        "api_key": settings.captioner_api_key,
        "fps": settings.captioner_fps or None,
        "packing": settings.captioner_packing,
        "batch": settings.captioner_batch,
        "device": settings.captioner_device,
        "max_new_tokens": settings.captioner_max_new_tokens,
        "vision": settings.captioner_vision,
    }
    return captioner_from_options(settings.captioner, options)


def open_library(settings: Settings | None = None, *, for_ingest: bool = False) -> Library:
    """Open the library at settings.home; with for_ingest, also build the indexer and its models."""
    from vidrag.indexing.embed import Embedder
    from vidrag.storage.catalog import Catalog
    from vidrag.tools.library import Library

    settings = settings or Settings()
    check_home(settings.home)
    embedder = Embedder(settings.embedder, cache_dir=settings.cache_dir)
    try:
        catalog = Catalog(settings.catalog_path)
    except sqlite3.Error as err:
        raise BackendUnavailable(
            f"The catalog {settings.catalog_path} cannot be opened ({err}); check that VIDRAG_HOME is a "
            "writable folder on a local disk and that no other program holds the file."
        ) from err
    try:
        store = _open_own_store(settings, embedder.dim)
    except BaseException:
        catalog.close()
        raise
    captioner = make_captioner(settings)  # models load on first use: re-asking clips needs it too
    indexer = build_indexer(settings, store, catalog, embedder, captioner) if for_ingest else None
    library = Library(
        store=store,
        catalog=catalog,
        embedder=embedder,
        indexer=indexer,
        captioner=captioner,
        cache_dir=settings.cache_dir,
        search_mode=settings.search_mode,
        allowed_roots=settings.allowed_roots,
    )
    damage = library.damage()  # state is checked, never assumed: a lost store is said at once
    if damage is not None:
        log.warning("%s", damage.summary())
    return library


def check_home(home: Path) -> None:
    """Make sure the data folder exists and is writable (the catalog and the store write there).

    Raises:
        BackendUnavailable: it cannot be created or written (a read-only mount, no permission), named
            with the cause and the fix.
    """
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BackendUnavailable(
            f"VIDRAG_HOME {home} cannot be created ({err.strerror or err}); point VIDRAG_HOME at a writable folder."
        ) from err
    if not home.is_dir():
        raise BackendUnavailable(f"VIDRAG_HOME {home} is not a folder; point VIDRAG_HOME at a writable folder.")
    if not os.access(home, os.W_OK | os.X_OK):
        raise BackendUnavailable(
            f"VIDRAG_HOME {home} is not writable (a read-only mount or no permission); vidrag writes its catalog "
            "and store there, even to search: point VIDRAG_HOME at a writable folder or fix its permissions."
        )


def _open_own_store(settings: Settings, dim: int) -> ClipStore:
    """The clip store; an embedded one is held by this process, and a refusal says which process holds it.

    Raises:
        BackendUnavailable: another process has the embedded store open.
    """
    from vidrag.api import discovery

    embedded = not settings.qdrant_url
    try:
        store = open_store(settings, dim)
    except BackendUnavailable as err:
        who = discovery.holder(settings.home) if embedded else None
        if who is None:
            raise
        raise BackendUnavailable(
            f"The library at {settings.home} is open in another process: {who}. Stop it, or, if it is "
            "`vidrag serve`, let it answer: vidrag finds a running server through its server.json file."
        ) from err
    if embedded:
        discovery.note_holder(settings.home)
    return store


def build_indexer(
    settings: Settings, store: ClipStore, catalog: Catalog, embedder: Embedder, captioner: Captioner
) -> Indexer:
    """The ingest pipeline over the library's parts, with the speech and OCR models the settings name."""
    from vidrag.indexing.ocr import make_ocr
    from vidrag.indexing.pipeline import Indexer, IngestOptions

    options = IngestOptions(
        max_clip=settings.segment.max_clip,
        min_clip=settings.segment.min_clip,
        shot_threshold=settings.segment.shot_threshold,
        analysis_fps=settings.analysis_fps,
    )
    return Indexer(
        store=store,
        catalog=catalog,
        embedder=embedder,
        transcriber=make_transcriber(settings),
        captioner=captioner,
        ocr=make_ocr(settings.ocr, settings.ocr_lang),
        cache_dir=settings.cache_dir,
        options=options,
        caption_batch=settings.captioner_batch,
    )


def make_transcriber(settings: Settings) -> Transcriber:
    """The speech model VIDRAG_ASR_MODEL names, in VIDRAG_ASR_LANGUAGE (else detected), decoding
    VIDRAG_ASR_BATCH speech chunks at a time (0: one after another)."""
    from vidrag.indexing.asr import Transcriber

    return Transcriber(settings.asr_model, language=settings.asr_language, batch=settings.asr_batch)


def worker_part(settings: Settings, part: str, *, dim: int = 0) -> WorkerPart:
    """One model (or the server store) as an ingest stage builds it, in this process or on a Ray
    worker (`functools.partial(worker_part, settings)` travels to the workers).

    Raises:
        InputError: an unknown part.
    """
    from vidrag.storage.errors import InputError

    if part == "transcriber":
        return make_transcriber(settings)
    if part == "ocr":
        from vidrag.indexing.ocr import make_ocr

        return make_ocr(settings.ocr, settings.ocr_lang)
    if part == "captioner":
        return make_captioner(settings)
    if part == "embedder":
        from vidrag.indexing.embed import Embedder

        return Embedder(settings.embedder)
    if part == "store":
        return open_store(settings, dim)
    raise InputError(f"Unknown ingest part {part!r}; known: transcriber, ocr, captioner, embedder, store.")


def ingest_on_ray(
    library: Library | RemoteLibrary,
    settings: Settings,
    paths: Iterable[str | Path],
    *,
    address: str | None = None,
    workers: int = 0,
    progress: RunProgress | None = None,
) -> list[IngestResult]:
    """Ingest on Ray Data with this library's catalog as the truth, at `address`, else
    VIDRAG_RAY_ADDRESS, else on a local cluster; workers write straight to the server when
    VIDRAG_QDRANT_URL is set, else the driver writes to the embedded store."""
    from functools import partial

    return library.ingest_on_ray(
        paths,
        build=partial(worker_part, settings),
        address=address or settings.ray_address,
        workers=workers,
        direct_write=bool(settings.qdrant_url),
        progress=progress,
    )


def make_llm(settings: Settings) -> LLM | None:
    """The agent's LLM: an OpenAI-compatible server at VIDRAG_LLM_URL (vLLM, Ollama, OpenAI), or None
    when no URL is set, which selects the no-LLM extractive answerer.

    Raises:
        BackendUnavailable: the openai-like llama-index integration is not installed.
    """
    if not settings.llm_url:
        return None
    try:
        import llama_index.llms.openai_like  # noqa: F401 - fail here with the fix, not deep in a request
    except ImportError as err:
        raise BackendUnavailable(
            "The OpenAI-compatible LLM client is missing; run `pip install llama-index-llms-openai-like`."
        ) from err
    from vidrag.agent.llm_server import server_llm

    return server_llm(
        url=settings.llm_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        function_calling=bool(settings.llm_function_calling),
        timeout=float(settings.llm_timeout),
        retries=int(settings.llm_retries),
    )
