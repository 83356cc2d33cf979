"""scripts/test-services.sh on a machine without PostgreSQL or Redis: it falls back to the
embedded servers from the pip wheels, prints their URLs for the test run, finds them again
on the next call, and `stop` ends them. The system servers are hidden from it by a PATH
without pg_isready / redis-cli / pg_ctlcluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil
import psycopg
import pytest
from redis import Redis

from tests.conftest import recreate_database

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(180)
TOOLS = ("bash", "cat", "dirname", "mkdir", "seq", "sleep", "setsid", "id", "useradd")


def run_script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/test-services.sh", command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=150)  # fmt: skip


def exports(stdout: str) -> dict[str, str]:
    lines = [line.removeprefix("export ").split("=", 1) for line in stdout.splitlines()]
    return {key: value.strip("'") for key, value in lines}


@pytest.fixture
def no_system_servers(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QH_")}
    env.update(PATH=str(bin_dir), QH_EMBEDDED_DIR=str(tmp_path / "embedded"))
    yield env
    run_script("stop", env)


def test_falls_back_to_the_embedded_servers_and_reuses_them(no_system_servers, tmp_path):
    first = run_script("env", no_system_servers)
    assert first.returncode == 0, first.stderr
    assert "starting PostgreSQL and Valkey from the pip wheels" in first.stderr
    urls = exports(first.stdout)
    db_url, redis_url = urls["QH_TEST_DATABASE_URL"], urls["QH_TEST_REDIS_URL"]
    assert db_url.split("?")[0].endswith("/qh_test") and f"host={tmp_path}" in db_url
    assert redis_url.endswith("/15") and ":6379/" not in redis_url
    assert urls["QH_CHROMIUM"]

    recreate_database(db_url)  # what tests/conftest.py does with it
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("qh_test",)
    with Redis.from_url(redis_url) as redis:
        assert redis.ping()

    again = run_script("env", no_system_servers)
    assert again.returncode == 0, again.stderr
    assert "starting" not in again.stderr and exports(again.stdout) == urls

    holder = int((tmp_path / "embedded" / "services.pid").read_text())
    pgdata = tmp_path / "embedded" / "pgdata"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    servers = [psutil.Process(holder), psutil.Process(postmaster)]
    servers += psutil.Process(holder).children(recursive=True)  # valkey-server
    assert run_script("stop", no_system_servers).returncode == 0
    _, alive = psutil.wait_procs(servers, timeout=30)
    assert not alive
