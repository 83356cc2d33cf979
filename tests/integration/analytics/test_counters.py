"""Buffered counters (portal/analytics/counters.py) on real Redis and PostgreSQL: app page
views and API-key requests add up in Redis, reach the database in one batch, are never
counted twice or lost when the database refuses a batch, and fall back to direct writes."""

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from portal.analytics import counters
from portal.analytics.models import UsageAnalytics
from portal.apps import metrics
from portal.apps.models import AppMetrics, QuantumApp
from portal.core.extensions import db
from tests.factories.accounts import UserFactory, make_api_key
from tests.factories.apps import registry_app


@pytest.fixture
def buffered(app, monkeypatch, redis_flushed):
    """Buffering on; the next flush is not due yet, so only ``flush()`` writes."""
    monkeypatch.setitem(app.config, "COUNTER_FLUSH_SECONDS", 60)
    redis_flushed.set(counters.FLUSH_DUE, 1, ex=60)
    return redis_flushed


def _views(app_id) -> int:
    db.session.expire_all()
    return (
        db.session.execute(
            sa.select(AppMetrics.views).filter_by(quantum_app_id=app_id)
        ).scalar_one_or_none()
        or 0
    )


def _usage(user_id, endpoint) -> int:
    db.session.expire_all()
    return db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(UsageAnalytics.request_count), 0)).filter_by(
            user_id=user_id, endpoint=endpoint
        )
    ).scalar_one()


def test_views_and_api_requests_wait_in_redis_then_land_in_one_batch(committed_db, buffered):
    bell, grover = registry_app(name="Bell Pair"), registry_app(name="Grover Search")
    user = UserFactory()
    db.session.commit()
    metrics.increment(bell.id, "views", 5)  # an existing row is added to
    db.session.commit()
    for app_id in (bell.id, bell.id, grover.id):
        counters.count_view(app_id)
    counters.count_api_request(user.id, "GET /api/v1/jobs")
    counters.count_api_request(user.id, "GET /api/v1/jobs")
    db.session.commit()  # what a request does after counting: nothing of these is in it
    assert _views(bell.id) == 5 and _views(grover.id) == 0  # nothing written yet
    assert _usage(user.id, "GET /api/v1/jobs") == 0
    assert int(buffered.hget(counters.VIEWS, str(bell.id))) == 2
    assert list(buffered.hgetall(counters.USAGE).values()) == [b"2"]  # both were buffered

    assert counters.flush() == 3  # two apps and one usage counter
    assert _views(bell.id) == 7 and _views(grover.id) == 1  # grover's row was created
    assert _usage(user.id, "GET /api/v1/jobs") == 2
    assert not buffered.exists(counters.VIEWS) and not buffered.exists(counters.USAGE)
    assert counters.flush() == 0  # nothing counted twice
    assert _views(bell.id) == 7


def test_a_refused_batch_goes_back_to_the_buffer(committed_db, buffered, monkeypatch):
    bell = registry_app(name="Bell Pair")
    db.session.commit()
    counters.count_view(bell.id)
    real_add_views, down = metrics.add_views, [True]

    def add_views(*args, **kwargs):
        if down:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real_add_views(*args, **kwargs)

    monkeypatch.setattr(metrics, "add_views", add_views)
    assert counters.flush() == 0
    assert int(buffered.hget(counters.VIEWS, str(bell.id))) == 1  # kept, not lost
    assert not buffered.keys(f"{counters.VIEWS}:batch:*")
    down.clear()  # the database is back
    assert counters.flush() == 1 and _views(bell.id) == 1


def test_views_of_a_deleted_app_are_dropped_without_failing_the_batch(committed_db, buffered):
    kept, gone = registry_app(name="Kept"), registry_app(name="Gone")
    user = UserFactory()
    db.session.commit()
    counters.count_view(kept.id)
    counters.count_view(gone.id)
    counters.count_api_request(user.id, "GET /api/v1/jobs")
    db.session.execute(sa.delete(QuantumApp).where(QuantumApp.id == gone.id))
    db.session.commit()
    counters.flush()
    assert _views(kept.id) == 1
    assert _usage(user.id, "GET /api/v1/jobs") == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(AppMetrics).filter_by(
        quantum_app_id=gone.id)).scalar_one() == 0  # fmt: skip


def test_api_requests_add_to_existing_rows_and_a_deleted_users_drop_out(committed_db, buffered):
    from portal.accounts.models import User
    from portal.analytics.usage import record_usage

    ada, bob, gone = UserFactory(), UserFactory(), UserFactory()
    db.session.commit()
    record_usage(ada.id, "GET /api/v1/jobs", requests=4)  # a row from earlier today
    db.session.commit()
    for user, endpoint in [(ada, "GET /api/v1/jobs"), (ada, "GET /api/v1/jobs"),
                           (bob, "GET /api/v1/bills"), (gone, "GET /api/v1/jobs")]:  # fmt: skip
        counters.count_api_request(user.id, endpoint)
    gone_id = gone.id
    db.session.execute(sa.delete(User).where(User.id == gone_id))
    db.session.commit()
    assert counters.flush() == 3
    assert _usage(ada.id, "GET /api/v1/jobs") == 6 and _usage(bob.id, "GET /api/v1/bills") == 1
    rows = db.session.execute(
        sa.select(sa.func.count()).select_from(UsageAnalytics).filter_by(user_id=ada.id)
    ).scalar_one()
    assert rows == 1  # added to, not duplicated
    assert _usage(gone_id, "GET /api/v1/jobs") == 0


def test_the_first_count_after_the_interval_flushes_in_the_background(
    committed_db, app, monkeypatch, redis_flushed
):
    monkeypatch.setitem(app.config, "COUNTER_FLUSH_SECONDS", 60)
    bell = registry_app(name="Bell Pair")
    db.session.commit()
    counters.count_view(bell.id)  # no flush yet in this interval: this one starts it
    deadline = time.monotonic() + 10
    while _views(bell.id) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _views(bell.id) == 1
    assert redis_flushed.ttl(counters.FLUSH_DUE) > 0  # the next one waits for the interval
    counters.count_view(bell.id)
    time.sleep(0.3)
    assert _views(bell.id) == 1 and int(redis_flushed.hget(counters.VIEWS, str(bell.id))) == 1


def test_pages_and_api_calls_count_through_the_buffer(committed_db, client, buffered):
    bell = registry_app(name="Bell Pair")
    user = UserFactory()
    _row, key = make_api_key(user, scopes=("read",))
    db.session.commit()
    assert client.get(f"/registry/{bell.id}").status_code == 200
    assert client.get(f"/api/v1/registry/{bell.id}").status_code == 200
    assert client.get("/api/v1/bills", headers={"X-API-Key": key}).status_code == 200
    assert _views(bell.id) == 0 and _usage(user.id, "GET /api/v1/bills") == 0
    counters.flush()
    assert _views(bell.id) == 2 and _usage(user.id, "GET /api/v1/bills") == 1


def test_the_worker_reconciler_flushes_in_quiet_periods(committed_db, app, buffered):
    from portal.scheduler import flush_counters

    bell = registry_app(name="Bell Pair")
    db.session.commit()
    counters.count_view(bell.id)
    flush_counters(app)
    assert _views(bell.id) == 1


def test_without_redis_each_count_is_written_with_the_request(app, monkeypatch, client):
    monkeypatch.setitem(app.config, "COUNTER_FLUSH_SECONDS", 60)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens
    monkeypatch.setitem(app.extensions, "qh_redis", {})
    bell = registry_app(name="Bell Pair")
    user = UserFactory()
    _row, key = make_api_key(user, scopes=("read",))
    db.session.commit()
    assert client.get(f"/registry/{bell.id}").status_code == 200
    assert client.get("/api/v1/bills", headers={"X-API-Key": key}).status_code == 200
    assert _views(bell.id) == 1 and _usage(user.id, "GET /api/v1/bills") == 1
