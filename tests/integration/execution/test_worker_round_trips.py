"""The worker's database work per job (issue 23): one autocommit statement claims the job and
takes its lock, one transaction writes the outcome. Counted, so a regression fails; and what
the shape relies on (locks, the usage upsert under concurrent finishes) checked."""

from __future__ import annotations

import threading

import psycopg
import pytest
import sqlalchemy as sa

from portal.analytics.models import UsageAnalytics
from portal.core.extensions import db
from portal.execution import runner
from portal.execution.models import Job, JobStatus
from portal.execution.runner import lock_key, run_job
from portal.notifications.models import Notification
from tests.conftest import database_url
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version
from tests.factories.execution import JobFactory


@pytest.fixture
def round_trips(app):
    """What each job run sends to PostgreSQL: statements, and the BEGIN and COMMIT psycopg
    sends for a transaction (none on the autocommit lock connection)."""
    seen: list[str] = []

    def statement(conn, cursor, sql, *args):
        seen.append(" ".join(sql.split()))

    def transaction(word):
        def note(conn):
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                seen.append(word)

        return note

    begin, commit = transaction("BEGIN"), transaction("COMMIT")
    sa.event.listen(db.engine, "before_cursor_execute", statement)
    sa.event.listen(db.engine, "begin", begin)
    sa.event.listen(db.engine, "commit", commit)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", statement)
    sa.event.remove(db.engine, "begin", begin)
    sa.event.remove(db.engine, "commit", commit)


def _shape(sql: str) -> str:
    if sql in {"BEGIN", "COMMIT"}:
        return sql
    head = sql.split(" ", 1)[0]
    if head == "UPDATE" and "pg_advisory_lock" in sql:
        return "claim + lock"
    if head in {"INSERT", "UPDATE"}:
        return f"{head} {sql.split()[2 if head == 'INSERT' else 1]}"
    if head == "SELECT" and "FOR UPDATE" in sql:
        return "SELECT job FOR UPDATE"
    if head == "WITH":  # data-modifying CTEs: the job's UPDATE, then the INSERTs
        parts = [f"INSERT {t.split()[0]}" for t in sql.split("INSERT INTO ")[1:]]
        return " + ".join([f"UPDATE {sql.split('UPDATE ', 1)[1].split()[0]}", *parts])
    return sql


def _free(key: int) -> bool:
    """Whether another session can take the advisory lock ``key`` (as the reconciler asks)."""
    with psycopg.connect(database_url(), autocommit=True) as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if got:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return got


# One autocommit statement: the claim returned all the finish needs.
FINISH = ["UPDATE jobs + INSERT job_results + INSERT notifications + INSERT usage_analytics"]


def test_a_job_is_one_claim_and_one_finishing_transaction(committed_db, catalogue, round_trips):
    user = UserFactory()
    first, second = (JobFactory(user=user, hardware=catalogue["aer-simulator"]).id for _ in "12")
    committed_db.commit()
    assert run_job(first, worker=True) is JobStatus.COMPLETED  # warm: the kept connection
    assert not _free(lock_key(first))  # a worker keeps its last job's lock ...
    del user
    db.session.remove()  # as workers.jobs.run does: the owner is not in the session
    round_trips.clear()
    assert run_job(second, worker=True) is JobStatus.COMPLETED
    assert [_shape(s) for s in round_trips] == ["claim + lock", *FINISH]
    assert _free(lock_key(first))  # ... until its next claim releases it
    # The claim's commit alone is asynchronous (set_config local to its statement): the
    # finish on the same connection commits durably.
    assert "set_config" in round_trips[0]
    kept = runner._kept.conn
    assert kept.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    db.session.remove()
    notes = db.session.execute(sa.select(sa.func.count()).select_from(Notification)).scalar()
    usage = db.session.execute(sa.select(UsageAnalytics)).scalar_one()
    assert notes == 2 and usage.request_count == 2 and usage.quantum_app_id is None


def test_an_app_run_reads_its_version_with_the_job(committed_db, catalogue, round_trips):
    user = UserFactory()
    app = QuantumAppFactory()
    version = add_version(app)
    job = JobFactory(user=user, hardware=catalogue["aer-simulator"], app_version_id=version.id).id
    app_id = app.id
    committed_db.commit()
    round_trips.clear()
    assert run_job(job) is JobStatus.COMPLETED
    shapes = [_shape(s) for s in round_trips]
    assert shapes[:-1] == ["claim + lock", *FINISH]  # no SELECT of the app version
    assert "pg_advisory_unlock" in shapes[-1]  # not a worker: unlocked at once
    db.session.remove()
    usage = db.session.execute(sa.select(UsageAnalytics)).scalar_one()
    assert usage.quantum_app_id == app_id and usage.endpoint == "apps.run"


def test_a_skipped_job_takes_no_lock_and_a_stopped_one_releases_its_own(
    committed_db, catalogue, round_trips
):
    user = UserFactory()
    device = catalogue["aer-simulator"]
    done = JobFactory(user=user, hardware=device).id
    cancelled = JobFactory(user=user, hardware=device, status=JobStatus.CANCELLED).id
    committed_db.commit()
    assert run_job(done, worker=True) is JobStatus.COMPLETED
    round_trips.clear()
    assert run_job(cancelled, worker=True) is JobStatus.CANCELLED
    assert len(round_trips) == 2  # the claim finds nothing; the status read
    assert _free(lock_key(cancelled))
    assert not _free(lock_key(done))  # still the last claimed job's, released next time


def test_concurrent_finishes_of_one_users_jobs_count_every_run(app, committed_db, catalogue):
    user = UserFactory()
    ids = [JobFactory(user=user, hardware=catalogue["aer-simulator"]).id for _ in range(8)]
    committed_db.commit()
    statuses = []

    def work(keys):
        with app.app_context():
            for key in keys:
                statuses.append(run_job(key))
                db.session.remove()

    threads = [threading.Thread(target=work, args=(ids[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert statuses == [JobStatus.COMPLETED] * 8
    rows = db.session.execute(sa.select(UsageAnalytics)).scalars().all()
    assert len(rows) == 1 and rows[0].request_count == 8
    left = db.session.execute(
        sa.select(sa.func.count()).select_from(Job).where(Job.status != JobStatus.COMPLETED)
    ).scalar()
    assert left == 0


def test_a_webhook_and_an_opted_in_owner_add_no_round_trip(
    committed_db, catalogue, round_trips, outbox, monkeypatch
):
    from portal.webhooks import services as webhooks
    from portal.webhooks.models import WebhookDelivery

    enqueued = []
    monkeypatch.setattr(webhooks, "enqueue", enqueued.append)
    user = UserFactory(preferences={"email_events": ["job.completed"]})
    device = catalogue["aer-simulator"]
    warm = JobFactory(user=user, hardware=device).id
    key = JobFactory(user=user, hardware=device, webhook_url="https://hooks.example/q").id
    committed_db.commit()
    assert run_job(warm, worker=True) is JobStatus.COMPLETED
    db.session.remove()
    round_trips.clear()
    enqueued.clear()
    assert run_job(key, worker=True) is JobStatus.COMPLETED
    assert [_shape(s) for s in round_trips] == [
        "claim + lock",
        "UPDATE jobs + INSERT job_results + INSERT webhook_deliveries + INSERT notifications"
        " + INSERT usage_analytics",
    ]
    db.session.remove()
    (delivery,) = db.session.execute(sa.select(WebhookDelivery)).scalars()
    assert (delivery.job_id, delivery.event, delivery.url, delivery.attempt) == (
        key, "job.completed", "https://hooks.example/q", 1,
    )  # fmt: skip
    assert delivery.state == "PENDING" and delivery.next_attempt_at is not None
    assert enqueued == [delivery.id]  # after the statement committed
    assert [m.subject for m in outbox()] == ["Quantum Hub: Job completed"] * 2
