"""Finding the server that owns a library: the `server.json` file that `vidrag serve` keeps in VIDRAG_HOME.

While `vidrag serve` runs it owns the library (the embedded store admits one process), and every other
surface (the CLI, `vidrag mcp`, `vidrag.open_library`) becomes its client. The server writes
`<home>/server.json` once it listens: its URL, its process id, and an owner key (readable only by its
user: the file is mode 0600) that opens every route, including ingesting any file the server's user
can read. It removes the file when it stops. A file left by a crashed server names a dead process
and is ignored.

Standard library only: the CLI reads this before anything else loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SERVER_FILE = "server.json"
HOLDER_FILE = "holder.json"


@dataclass(frozen=True)
class ServerInfo:
    """A running vidrag server for one home: where it listens and the key that opens it."""

    url: str
    pid: int
    key: str
    home: str


def server_file(home: str | os.PathLike[str]) -> Path:
    return Path(home) / SERVER_FILE


def new_owner_key() -> str:
    return secrets.token_urlsafe(32)


def client_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on host:port."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def announce(home: str | os.PathLike[str], url: str, key: str) -> Path:
    """Write the server file (mode 0600, atomically) for this process."""
    path = server_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"url": url, "pid": os.getpid(), "key": key, "started": time.time()}
    tmp = path.with_name(f".{SERVER_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def withdraw(home: str | os.PathLike[str]) -> None:
    """Remove the server file if this process wrote it."""
    path = server_file(home)
    info = _read(path)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def describe_process(pid: int) -> str:
    """`pid N (command line)` where /proc tells it, else `pid N`."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        command = " ".join(raw.split())
    except OSError:
        command = ""
    if len(command) > 120:
        command = command[:119] + "…"
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def _read(path: Path) -> ServerInfo | None:
    try:
        data = json.loads(path.read_text())
        return ServerInfo(url=str(data["url"]), pid=int(data["pid"]), key=str(data["key"]), home=str(path.parent))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_server(home: str | os.PathLike[str], *, wait: float = 3.0) -> ServerInfo | None:
    """The live server of this home, or None when there is none.

    A server whose process is alive but does not answer `/health` yet (starting) is given `wait` seconds.
    """
    info = _read(server_file(home))
    if info is None or not pid_alive(info.pid):
        return None
    deadline = time.monotonic() + wait
    while True:
        if _answers(info.url):
            return info
        if time.monotonic() >= deadline or not pid_alive(info.pid):
            return None
        time.sleep(0.1)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a server on this machine: no proxy


def _answers(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/health", timeout=2.0) as response:
            ok: bool = response.status == 200
            return ok
    except (OSError, urllib.error.URLError, ValueError):
        return False


# the in-process holder ----------------------------------------------------------------------------


def note_holder(home: str | os.PathLike[str]) -> None:
    """Record that this process holds the embedded store of `home` (read when another process cannot
    open it, to say which process to stop)."""
    path = Path(home) / HOLDER_FILE
    with contextlib.suppress(OSError):
        path.write_text(json.dumps({"pid": os.getpid(), "since": time.time()}))


def holder(home: str | os.PathLike[str]) -> str | None:
    """Which live process holds the library of `home`: the server, or the last process that opened it."""
    server = _read(server_file(home))
    if server is not None and pid_alive(server.pid):
        return f"the vidrag server at {server.url}, {describe_process(server.pid)}"
    try:
        pid = int(json.loads((Path(home) / HOLDER_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid):
        return None
    return f"this process, pid {pid}" if pid == os.getpid() else describe_process(pid)
