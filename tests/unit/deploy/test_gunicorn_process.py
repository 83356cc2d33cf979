"""gunicorn started with deploy/gunicorn.conf.py as in production: each worker listens on a
socket of its own, and the kernel spreads new connections over both workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[3] == "0A" and int(row[1].split(":")[1], 16) == port)


@pytest.fixture
def served():
    port = _free_port()
    env = {**os.environ, "QH_BIND": f"127.0.0.1:{port}", "QH_WEB_WORKERS": "2",
           "QH_WEB_THREADS": "2", "QH_LOG_LEVEL": "warning"}  # fmt: skip
    env.pop("QH_WEB_REUSE_PORT", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
         "tests.unit.deploy.hello_wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while _listeners(port) < 2:
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "the workers did not listen"
            time.sleep(0.1)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_each_worker_has_its_own_listener_and_both_take_connections(served):
    assert _listeners(served) == 2
    answered_by = set()
    for _ in range(200):  # a new connection each: the kernel picks a socket per connection
        with urllib.request.urlopen(f"http://127.0.0.1:{served}/", timeout=5) as response:
            answered_by.add(response.read())
        if len(answered_by) == 2:
            break
    assert len(answered_by) == 2
