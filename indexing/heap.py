"""Keep the ingest's host memory near what it holds, not what it once held (glibc malloc only).

Decoded frames (0.7–6 MB each) are allocated and freed by several threads at once. With glibc's
defaults each thread gets its own heap ("arena", up to 8 per core) and, once a large block has been
freed, blocks of that size stop being mapped on their own and are carved from those heaps instead,
where freed space is kept for reuse rather than returned: the process grows with every video (5.7 GB
after the nine sample videos). `bound_heap` caps the arenas, keeps large blocks mapped (returned to
the system when freed) and trims the heap's top; `trim` hands free heap memory back after a video.
Elsewhere (musl, macOS, Windows) both do nothing.

`bound_heap` changes the whole process's allocator, so only vidrag's own processes call it (`vidrag
ingest`, `vidrag demo`, `vidrag serve`); an application that imports vidrag keeps its own settings
unless it calls `bound_heap()` itself. `trim` is harmless anywhere and runs after every video.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_done = False


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def bound_heap(arenas: int = 2, mmap_threshold: int = 1 << 20, trim_threshold: int = 32 << 20) -> bool:
    """Set glibc's malloc for a long ingest, once per process; whether it was set."""
    global _done
    libc = _libc()
    if libc is None or _done:
        return _done
    ok = all(
        libc.mallopt(option, value)
        for option, value in (
            (_M_ARENA_MAX, arenas),
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
        )
    )
    _done = bool(ok)
    log.debug("malloc bounded for ingest: %s", _done)
    return _done


def trim() -> None:
    """Return the heaps' free memory to the system (after a video)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
