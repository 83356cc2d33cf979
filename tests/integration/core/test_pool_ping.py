"""Pooled PostgreSQL connections are pinged only after being idle (``ping_idle_connections``):
none on a connection that was just used, one on an idle one, and a connection that died
while idle is replaced before the request gets it."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.config import normalise_database_url
from portal.core import db as core_db
from tests.conftest import database_url


@pytest.fixture
def engine(monkeypatch):
    engine = sa.create_engine(normalise_database_url(database_url()), pool_size=1, max_overflow=0)
    core_db.ping_idle_connections(engine)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    engine.pings = pings
    yield engine
    engine.dispose()


def terminate(pid: int) -> None:
    """End that backend (as a PostgreSQL restart would) and wait until it is gone."""
    # Autocommit: pg_stat_activity is read once per transaction, so inside one transaction
    # a backend seen alive at the first look would stay "alive" however long it has gone.
    admin = sa.create_engine(
        normalise_database_url(database_url()),
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            for _ in range(250):
                alive = conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar_one()
                if not alive:
                    return
                time.sleep(0.02)
        raise AssertionError(f"backend {pid} did not end")
    finally:
        admin.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_just_checked_in_is_handed_out_without_a_ping(engine):
    first = backend_pid(engine)  # a new connection: no ping either
    assert backend_pid(engine) == first  # the same pooled connection, straight back
    assert engine.pings == []


def test_an_idle_connection_is_pinged_once_per_checkout(engine, monkeypatch):
    first = backend_pid(engine)
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert backend_pid(engine) == first
    assert backend_pid(engine) == first
    assert len(engine.pings) == 2


def test_an_idle_connection_that_died_is_replaced_before_use(engine, monkeypatch):
    dead = backend_pid(engine)
    terminate(dead)
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_SECONDS", 0.0)
    replacement = backend_pid(engine)  # no error: the ping failed and the pool reconnected
    assert replacement != dead
    assert len(engine.pings) == 1


def test_without_the_ping_a_dead_connection_fails_once_then_the_pool_recovers(engine):
    """The trade-off of not pinging a connection used within the last second."""
    dead = backend_pid(engine)
    terminate(dead)
    with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert backend_pid(engine) != dead
    assert engine.pings == []
