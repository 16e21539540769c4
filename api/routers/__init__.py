"""One router per resource, and the dependencies they share (library, jobs, settings, API key).

Everything a request needs hangs off `request.app.state`, set by `vidrag.api.app.create_app`: nothing is
built at import time, and tests hand the app a library they already hold.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from starlette.datastructures import State

from vidrag.api.jobs import JobManager
from vidrag.api.settings import Settings
from vidrag.tools.library import Library

API_KEY_HEADER = "X-API-Key"
API_KEY_COOKIE = "vidrag_api_key"
_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Required when VIDRAG_API_KEY is set.")


def get_library(request: Request) -> Library:
    """The app's Library."""
    library: Library = request.app.state.library
    return library


def get_jobs(request: Request) -> JobManager:
    """The app's ingestion job manager."""
    jobs: JobManager = request.app.state.jobs
    return jobs


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def require_api_key(request: Request, key: Annotated[str | None, Depends(_header)] = None) -> None:
    """Check the key when the app has one: the `X-API-Key` header, or `Authorization: Bearer KEY`.

    GET requests may carry the key in the `vidrag_api_key` cookie instead, so that `<video>` and
    `<img>` elements of the web page (which cannot send headers) can load media; state-changing
    requests need a header, which a cross-site form cannot send. The owner key of `vidrag serve`
    (in its server.json, readable only by its user) opens every route and marks the request as the
    owner's (`request.state.owner`): it may ingest any file the server's user can read.

    Raises:
        HTTPException: 401 when the key is missing or wrong.
    """
    key = key or bearer_token(request)
    request.state.owner = is_owner_key(request.app.state, key)
    if request.state.owner:
        return
    expected = request.app.state.api_key
    if key is None and request.method in ("GET", "HEAD"):
        key = request.cookies.get(API_KEY_COOKIE)
    if not key_matches(expected, key):
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": API_KEY_HEADER})


def is_owner_key(state: State, key: str | None) -> bool:
    """Whether `key` is the owner key of the running `vidrag serve` (set in the app's state)."""
    owner = getattr(state, "owner_key", None)
    return bool(owner and key and hmac.compare_digest(key.encode(), owner.encode()))


def key_opens(state: State, key: str | None) -> bool:
    """Whether a request with `key` may use the app: the owner key, or the API key (any key when none)."""
    return is_owner_key(state, key) or key_matches(state.api_key, key)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_owner(request: Request) -> bool:
    """Whether the request carried the server's owner key (see `require_api_key`)."""
    return bool(getattr(request.state, "owner", False))


def key_matches(expected: str | None, key: str | None) -> bool:
    """Whether a request's key opens the app: any key when none is configured, else the same key
    (compared in constant time)."""
    if not expected:
        return True
    return key is not None and hmac.compare_digest(key.encode(), expected.encode())


LibraryDep = Annotated[Library, Depends(get_library)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def describe_error(err: BaseException) -> tuple[int, dict[str, str]]:
    """The HTTP status and JSON body for an error: short stable `detail`, human `message` when safe.

    Vidrag's own errors carry messages written for users; anything else is reported as
    "internal error" with no message (its text could hold internals), and is logged by the caller.
    """
    from vidrag.storage.errors import BackendUnavailable, InputError, NotFound, VidragError

    for kind, status, detail in (
        (NotFound, 404, "not found"),
        (InputError, 422, "bad input"),
        (BackendUnavailable, 503, "backend unavailable"),
        (VidragError, 500, "internal error"),
    ):
        if isinstance(err, kind):
            return status, {"detail": detail, "message": str(err)}
    return 500, {"detail": "internal error"}


def refusal(err: Exception) -> HTTPException:
    """An intake refusal as an HTTP error with its short message as `detail`.

    Forbidden (configuration says no) is 403, TooLarge 413, other input errors 422; anything else is
    re-raised for the app's error handlers.
    """
    from vidrag.storage.errors import Forbidden, InputError, TooLarge

    for kind, status in ((Forbidden, 403), (TooLarge, 413), (InputError, 422)):
        if isinstance(err, kind):
            return HTTPException(status, str(err))
    raise err
