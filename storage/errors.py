"""One error hierarchy for vidrag, and the line between a native panic and a real stop (`FATAL`).

Each boundary translates these once: the CLI to an exit code and a message on stderr, the API to an
HTTP status, the agent's tools to text an LLM can act on. Messages say what happened, the value
involved, and the fix.
"""

import asyncio


class VidragError(Exception):
    """Base class of every error vidrag raises on purpose."""


class InputError(VidragError):
    """The caller gave something unusable: a bad file, a bad argument (HTTP 422)."""


class NotFound(VidragError):
    """A video, clip, job or session id that the library does not hold (HTTP 404)."""


class BackendUnavailable(VidragError):
    """A model server, Qdrant server or other backend could not be reached (HTTP 503)."""


class ModelMissing(BackendUnavailable):
    """Model weights are not present locally; the message names the model and how to get it."""


class Forbidden(VidragError):
    """The server's configuration does not allow it: a path outside the allowed roots (HTTP 403)."""


class TooLarge(InputError):
    """An upload over the configured size limit (HTTP 413)."""


class MediaMissing(NotFound):
    """The catalog knows the video but its file is gone (moved or deleted) (HTTP 404)."""


class StoreFailure(BackendUnavailable):
    """The store failed on a request, e.g. a panic inside the native Qdrant engine (HTTP 503)."""


class LibraryBroken(BackendUnavailable):
    """The library's state is inconsistent or closed: e.g. the catalog lists clips the store lacks (HTTP 503)."""


FATAL: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)
"""BaseExceptions that stop the process, a generator or a task (cancellation); every other one that is not an
Exception is a native panic, one request's failure."""


def is_native_panic(error: BaseException) -> bool:
    """Whether an error is a BaseException that is neither an Exception nor a way to stop: a panic from a
    native extension (pyo3's `PanicException` from Rust, and the like), which `except Exception` misses."""
    return not isinstance(error, (Exception, *FATAL))


def contain(error: BaseException, what: str) -> VidragError:
    """A native panic (or any unexpected error) of `what` as a vidrag error for one request.

    Raises:
        BaseException: `error` itself when it is KeyboardInterrupt, SystemExit or GeneratorExit.
    """
    if isinstance(error, FATAL):
        raise error
    if isinstance(error, VidragError):
        return error
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return StoreFailure(
        f"{what} failed ({type(error).__name__}: {detail}); only this request failed. If it recurs, run "
        "`vidrag doctor` and report the request that caused it."
    )
