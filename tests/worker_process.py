"""A real ``flask worker`` process on the test database and Redis, shared by the integration,
fault and browser tests (the same worker ``make run`` and production start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_url, redis_url

ROOT = Path(__file__).resolve().parents[1]


def worker_env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QH_ENV="testing",
        QH_DATABASE_URL=database_url(),
        QH_REDIS_URL=redis_url(),
        QH_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
        QH_LOG_JSON="1",
        QH_LOG_LEVEL="WARNING",
        QH_WEBHOOKS_ALLOW_PRIVATE="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def start_worker(tmp_path_factory):
    """``start_worker()`` -> a running ``flask worker`` subprocess on the test DB and Redis;
    stopped (or already killed) at the end of the test. Keyword arguments are extra
    environment variables; positional ones are extra ``flask worker`` options."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, **env) -> subprocess.Popen:
        log = tmp_path_factory.mktemp("worker").joinpath("worker.log").open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "worker",
                "--reconcile-every",
                "0",
                *args,
            ],
            cwd=ROOT,
            env=worker_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
