"""The app's outer guard: who may talk to it, under which Host and Origin, and a panic as one failed request.

`Guard` is a plain ASGI middleware around the whole app (routes, the page, `/mcp`). Per HTTP request:

1. **Peer.** Without an API key the app serves this machine only, however it was started (`vidrag
   serve`, `uvicorn --factory … --host 0.0.0.0`, a container): a client whose address, or the local
   address it reached, is not loopback gets 403. `create_app` also refuses a non-loopback
   `VIDRAG_HOST` without a key, but a setting cannot see the socket the server really binds.
2. **Host** (DNS rebinding). The `Host` header must name one of `VIDRAG_ALLOWED_HOSTS`; by default the
   loopback names, and any name once a key is set (a rebound page cannot send the key).
3. **Origin** (cross-site writes). A state-changing request (POST, PUT, PATCH, DELETE) that carries an
   `Origin` must come from the page itself (same host and port) or from `VIDRAG_CORS_ORIGINS`.
   `/mcp` is left to the MCP SDK's own check of the same headers.
4. **Docs.** With a key set, `/docs`, `/redoc` and `/openapi.json` need it (header or the page's cookie).
5. **Panics.** A `BaseException` from a native library (pyo3's `PanicException`, …) that escapes a
   route becomes a 500 for that request; the server, its lifespan and other requests go on.

Starlette's `TestClient` connects in process as peer `testclient` to host `testserver`; both names are
accepted from that peer only (a network peer is always an IP address).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vidrag.api.routers import API_KEY_COOKIE, API_KEY_HEADER, key_matches
from vidrag.storage.errors import FATAL

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
IN_PROCESS_PEER, IN_PROCESS_HOST = "testclient", "testserver"  # Starlette's TestClient
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SELF_CHECKED = ("/mcp",)  # the MCP SDK checks Host and Origin itself


def is_loopback(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def _ip_loopback(address: str) -> bool | None:
    """True or False for an IP address (IPv4-mapped IPv6 included), None for anything else."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def host_name(value: str) -> str:
    """The name part of a Host header or an origin's netloc, lower case: `[::1]:8000` → `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: peer, Host, Origin and docs checks, then the app with native panics contained."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        allowed_hosts: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.api_key = api_key or None
        hosts = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self.any_host = "*" in hosts or (not hosts and self.api_key is not None)
        self.hosts = {host_name(h) for h in hosts} or set(LOOPBACK_NAMES)
        self.origins = {o.strip().rstrip("/").lower() for o in cors_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            status, body, headers = refused
            await _send_json(send, status, body, headers)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except BaseException as error:
            if isinstance(error, FATAL) or isinstance(error, Exception):
                raise
            log.error("%s %s failed in a native library", scope.get("method"), scope.get("path"), exc_info=error)
            if not started:
                await _send_json(send, 500, {"detail": "internal error"})

    def refusal(self, scope: Scope) -> tuple[int, dict[str, str], list[tuple[bytes, bytes]]] | None:
        """Why a request is refused (status, body, headers), or None to serve it."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        in_process = peer == IN_PROCESS_PEER
        path = scope.get("path", "")
        if self.api_key is None and not in_process and not self._local(scope):
            log.warning("refused %s: no API key is set, so only this machine is served", peer or "a client")
            return (
                403,
                {
                    "detail": "forbidden",
                    "message": "This server has no API key, so it serves only this machine (loopback). Set "
                    "VIDRAG_API_KEY on the server (clients send it as X-API-Key), or connect from the server itself.",
                },
                [],
            )
        host = headers.get("host")
        if host is not None and not self._host_allowed(host_name(host), in_process):
            return (
                421,
                {
                    "detail": "host not allowed",
                    "message": "This server answers only to its own names (a guard against DNS rebinding); add "
                    "the name clients use to VIDRAG_ALLOWED_HOSTS.",
                },
                [],
            )
        origin = headers.get("origin")
        if (
            origin is not None
            and scope.get("method", "GET") in STATE_CHANGING
            and not path.startswith(SELF_CHECKED)
            and not self._origin_allowed(origin, host)
        ):
            return (
                403,
                {
                    "detail": "cross-site request refused",
                    "message": "A state-changing request from another site's page is refused; add that "
                    "origin to VIDRAG_CORS_ORIGINS if it is yours.",
                },
                [],
            )
        if self.api_key is not None and path in DOCS_PATHS:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" else ""
            key = headers.get(API_KEY_HEADER.lower()) or bearer or _cookie(headers.get("cookie", ""), API_KEY_COOKIE)
            if not key_matches(self.api_key, key):
                return 401, {"detail": "missing or invalid API key"}, [(b"www-authenticate", API_KEY_HEADER.encode())]
        return None

    @staticmethod
    def _local(scope: Scope) -> bool:
        """Whether the peer and the local address it reached are both loopback (or not network sockets)."""
        client, server = scope.get("client"), scope.get("server")
        if client is not None and _ip_loopback(str(client[0])) is not True:
            return False
        return server is None or _ip_loopback(str(server[0])) is not False

    def _host_allowed(self, name: str, in_process: bool) -> bool:
        return self.any_host or name in self.hosts or (in_process and name == IN_PROCESS_HOST)

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return bool(host) and parts.scheme in ("http", "https") and parts.netloc == str(host).strip().lower()


def argument_problems(arguments: Mapping[str, object]) -> list[str]:
    """What no tool may be given, whatever its schema says: numbers that are not finite (NaN, infinities,
    1e309) and strings with lone surrogates; one line per bad argument."""
    problems = []
    for key, value in arguments.items():
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{key}: must be a finite number, got {value}")
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                problems.append(f"{key}: contains a lone surrogate at character {err.start}; send valid Unicode")
    return problems


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _send_json(
    send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
