"""``make run`` end to end: ``python -m portal.embedded`` with its own instance folder and a
free port starts PostgreSQL, Valkey, a worker and gunicorn; a Ctrl-C stops every one of
them; the next start finds the same data. Never the shared servers on 5432 / 6379."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from redis import Redis
from rq import Worker

from portal.embedded import read_env_file

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(300)
CONSUMER = "SELECT id FROM users WHERE username = 'consumer'"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the launcher exited ({proc.returncode}) while {what}")
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Launcher:
    """One run of the launcher, as `make run` starts it, in its own process group (a
    terminal's Ctrl-C goes to the foreground group: here, only the launcher)."""

    def __init__(self, instance: Path, port: int, log: Path):
        self.instance, self.port = instance, port
        env = {k: v for k, v in os.environ.items() if not k.startswith("QH_")}
        env.update(QH_INSTANCE_PATH=str(instance), QH_BIND=f"127.0.0.1:{port}",
                   QH_WEB_WORKERS="1", QH_WEB_THREADS="2", QH_LOG_LEVEL="WARNING")  # fmt: skip
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "portal.embedded"], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> dict[str, str]:
        try:
            wait_until(lambda: ready(f"http://127.0.0.1:{self.port}/readyz"), 180,
                       "/readyz to answer 200", self.proc)  # fmt: skip
            urls = read_env_file(self.instance / "services.env")
            with Redis.from_url(urls["QH_REDIS_URL"]) as redis:
                wait_until(lambda: Worker.all(connection=redis), 60, "a worker", self.proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log.read_text()[-3000:]}") from None
        return urls

    def everything_started(self) -> list[psutil.Process]:
        """The launcher's descendants (servers holder, Valkey, workers, gunicorn) and the
        postmaster, which pg_ctl detaches from its parent."""
        launcher = psutil.Process(self.proc.pid)
        postmaster = int((self.instance / "pgdata" / "postmaster.pid").read_text().split()[0])
        return [*launcher.children(recursive=True), psutil.Process(postmaster)]

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        assert self.proc.wait(timeout=120) == 0, self.log.read_text()[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def command(proc: psutil.Process) -> list[str]:
    """Its command line; empty once it is a zombie or gone (its parent has not reaped it)."""
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def names(processes: list[psutil.Process]) -> str:
    return " | ".join(" ".join(command(p)[:4]) for p in processes)


def test_make_run_starts_everything_stops_it_on_ctrl_c_and_keeps_the_data(tmp_path):
    instance, port, log = tmp_path / "instance", free_port(), tmp_path / "launcher.log"
    first = Launcher(instance, port, log)
    try:
        urls = first.wait_ready()
        assert "host=" in urls["QH_DATABASE_URL"] and ":6379/" not in urls["QH_REDIS_URL"]
        started = first.everything_started()
        cmdlines = names(started)
        for part in ("portal.embedded services", "valkey-server", "flask worker",
                     "gunicorn", "postgres"):  # fmt: skip
            assert part in cmdlines, cmdlines
        with psycopg.connect(urls["QH_DATABASE_URL"]) as conn:
            (consumer,) = conn.execute(CONSUMER).fetchone()
        with Redis.from_url(urls["QH_REDIS_URL"]) as redis:
            redis.set("qh:test:kept", "yes")

        first.ctrl_c()
        _, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, names(alive)
        assert not (instance / "services.env").exists()
        assert "stopped; the data stays in" in log.read_text()
    finally:
        first.kill()

    second = Launcher(instance, port, log)
    try:
        urls = second.wait_ready()
        with psycopg.connect(urls["QH_DATABASE_URL"]) as conn:
            again = conn.execute(CONSUMER).fetchone()
        assert again == (consumer,)  # the same row, not a fresh demo user
        with Redis.from_url(urls["QH_REDIS_URL"]) as redis:
            assert redis.get("qh:test:kept") == b"yes"
        assert "Demo data already present" in log.read_text()
        started = second.everything_started()
        second.proc.send_signal(signal.SIGTERM)  # `kill`, a service manager: the same stop
        assert second.proc.wait(timeout=120) == 0
        _, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, names(alive)
    finally:
        second.kill()


def test_nothing_outlives_a_killed_launcher(tmp_path):
    """SIGKILL gives the launcher no chance to stop its children: they stop by themselves."""
    launcher = Launcher(tmp_path / "instance", free_port(), tmp_path / "launcher.log")
    try:
        launcher.wait_ready()
        started = launcher.everything_started()
        launcher.proc.kill()  # the launcher alone: its children are in sessions of their own
        launcher.proc.wait()
        _, alive = psutil.wait_procs(started, timeout=60)
        assert not alive, names(alive)
    finally:
        for proc in psutil.Process().children(recursive=True):
            if "portal.embedded" in " ".join(command(proc)) or "flask" in command(proc):
                with contextlib.suppress(psutil.NoSuchProcess):  # it may end meanwhile
                    proc.kill()


def test_a_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        launcher = Launcher(tmp_path / "instance", busy.getsockname()[1], tmp_path / "log")
        try:
            assert launcher.proc.wait(timeout=30) != 0
        finally:
            launcher.kill()
    assert "cannot listen on" in (tmp_path / "log").read_text()
    assert not (tmp_path / "instance" / "pgdata").exists()
