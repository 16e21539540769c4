"""The real `vidrag serve` as a process, on a copy of the sample library (real models).

Kept apart from tests/test_client_mode.py, whose module fixtures swap in fake models: the session's
sample library must never be built while they are installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vidrag.api import discovery


def test_vidrag_serve_announces_itself_and_withdraws_on_sigterm(sample_home, tmp_path):
    """The real `vidrag serve` (real models) on a copy of the sample library: server.json appears once it
    listens, `vidrag search` goes through it, a second `serve` refuses (exit 3), and SIGTERM
    removes the file."""
    import shutil
    import signal
    import time

    home = tmp_path / "home"
    shutil.copytree(sample_home, home, ignore=shutil.ignore_patterns(discovery.SERVER_FILE, discovery.HOLDER_FILE))
    env = {**os.environ, "VIDRAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    vidrag_exe = [sys.executable, "-m", "vidrag.api.cli"]
    log = tmp_path / "serve.log"
    server = subprocess.Popen([*vidrag_exe, "serve", "--port", "0"], env=env, stderr=log.open("w"), text=True)
    try:
        deadline = time.monotonic() + 180
        while discovery.find_server(home, wait=0) is None:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"vidrag serve did not start: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        info = discovery.find_server(home)
        assert info is not None and info.pid == server.pid
        found = subprocess.run(
            [*vidrag_exe, "search", "three-way handshake", "--json"], env=env, capture_output=True, text=True
        )
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["video"].endswith("tcp_networking.mp4")
        second = subprocess.run(
            [*vidrag_exe, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 3 and f"already serves {home} at {info.url}" in second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    assert not (home / discovery.SERVER_FILE).exists()
