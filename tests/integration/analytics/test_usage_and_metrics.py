"""Usage upserts and app metrics stay exact under concurrency (threads on real
PostgreSQL, real commits), and API-key requests are counted."""

import threading
from datetime import date

import sqlalchemy as sa

from portal.analytics.models import UsageAnalytics
from portal.analytics.usage import record_usage
from portal.apps import metrics
from portal.apps.models import AppMetrics
from portal.core.extensions import db
from tests.factories.accounts import UserFactory, make_api_key
from tests.factories.apps import QuantumAppFactory

THREADS, EACH = 8, 15


def _hammer(app, work) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def run():
        with app.app_context():
            try:
                barrier.wait()
                for _ in range(EACH):
                    work()
                    db.session.commit()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_usage_upserts_are_exact_under_concurrency(app, committed_db):
    user = UserFactory()
    quantum_app = QuantumAppFactory()
    db.session.commit()
    user_id, app_id = user.id, quantum_app.id
    day = date(2025, 3, 1)

    def work():
        record_usage(user_id, "apps.run", quantum_app_id=app_id, day=day, compute_seconds=0.5)
        record_usage(user_id, "jobs", day=day, compute_seconds=0.25)

    assert _hammer(app, work) == []
    rows = {
        r.endpoint: r
        for r in db.session.execute(sa.select(UsageAnalytics).filter_by(user_id=user_id)).scalars()
    }
    assert set(rows) == {"apps.run", "jobs"}  # one row per key, never duplicated
    assert rows["apps.run"].request_count == rows["jobs"].request_count == THREADS * EACH
    assert rows["apps.run"].compute_time_seconds == 0.5 * THREADS * EACH
    assert rows["jobs"].compute_time_seconds == 0.25 * THREADS * EACH


def test_app_metrics_counters_are_exact_under_concurrency(app, committed_db):
    quantum_app = QuantumAppFactory()
    db.session.commit()
    app_id = quantum_app.id

    def work():
        metrics.increment(app_id, "downloads")
        metrics.increment(app_id, "views", 2)

    assert _hammer(app, work) == []
    row = db.session.execute(sa.select(AppMetrics).filter_by(quantum_app_id=app_id)).scalar_one()
    assert row.downloads == THREADS * EACH
    assert row.views == 2 * THREADS * EACH


def test_api_key_requests_are_counted_per_day(client):
    user = UserFactory()
    _row, key = make_api_key(user, scopes=("read",))
    for _ in range(3):
        assert client.get("/api/v1/bills", headers={"X-API-Key": key}).status_code == 200
    row = db.session.execute(
        sa.select(UsageAnalytics).filter_by(user_id=user.id, endpoint="GET /api/v1/bills")
    ).scalar_one()
    assert row.request_count == 3


def test_bearer_requests_are_not_counted_as_key_usage(client, api_headers):
    user = UserFactory()
    client.get("/api/v1/bills", headers=api_headers(user))
    count = db.session.execute(
        sa.select(sa.func.count()).select_from(UsageAnalytics).filter_by(user_id=user.id)
    ).scalar_one()
    assert count == 0
