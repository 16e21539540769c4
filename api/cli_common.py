"""What the `vidrag` commands share, whichever module of the command tree they live in: the settings
and the library they work on. Tests replace `open_library` here to run the commands on a library of
their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidrag.api.client import RemoteLibrary
    from vidrag.api.settings import Settings
    from vidrag.tools.library import Library


def settings() -> Settings:
    """The settings, read from the environment now (a command runs once per process)."""
    from vidrag.api.settings import Settings

    return Settings()


def open_library(for_ingest: bool = False) -> Library | RemoteLibrary:
    """The library: the running server's (`vidrag serve` on this home), else opened in this process.

    A `RemoteLibrary` has the methods the commands use on both (the commands tell them apart with
    `is_remote` where they differ).
    """
    from vidrag.api.client import open_library as open_local_or_remote

    if for_ingest:
        from vidrag.indexing import heap

        heap.bound_heap()  # this process is ours: its allocator may be set for a long ingest
    return open_local_or_remote(settings(), for_ingest=for_ingest)
