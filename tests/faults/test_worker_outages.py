"""Issue 19, findings 1–4: workers outlive Redis and PostgreSQL outages, stop gracefully on
SIGTERM, count a lost job once however many reconcilers run, and keep a result they could
not write until the database is back.

Real processes throughout: ``flask worker`` / ``flask reconcile`` subprocesses, throwaway
``redis-server`` and PostgreSQL clusters for the outages (never the shared servers). Every
wait is bounded (``wait_until``); nothing asserts on how long something took.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from redis import Redis

from portal import create_app
from portal.accounts.tokens import issue_tokens
from portal.core.extensions import db
from portal.core.heartbeats import STORING_KEY
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import Job, JobStatus
from portal.execution.reconciler import QUEUE_GRACE_SECONDS
from tests.conftest import database_url, make_config, redis_url
from tests.factories.accounts import UserFactory
from tests.faults.conftest import wait_until
from tests.faults.test_worker_and_redis import statuses, submit
from tests.integration.execution.test_worker import SLOW
from tests.worker_process import ROOT, worker_env

pytestmark = pytest.mark.timeout(240)


def status_of(job_id: str) -> JobStatus:
    return statuses([job_id])[job_id].status


def bearer(user_id) -> dict[str, str]:
    from portal.accounts.models import User

    token = issue_tokens(db.session.get(User, user_id)).access_token
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


# -- finding 1: a Redis outage leaves no worker; /readyz did not notice ---------------------


def test_workers_outlive_a_redis_outage_and_readiness_sees_when_they_are_gone(
    committed_db, catalogue, start_worker, throwaway_redis
):
    user = UserFactory()
    committed_db.commit()
    portal = create_app(make_config(REDIS_URL=throwaway_redis.url, READYZ_WORKER_SECONDS=15))
    with portal.app_context():
        client = portal.test_client()
        headers = bearer(user.id)
        worker = start_worker(QH_REDIS_URL=throwaway_redis.url)
        wait_until(lambda: client.get("/readyz").status_code == 200, 120, "a worker to beat")
        slow = submit(client, headers, SLOW, shots=10)
        wait_until(lambda: status_of(slow) is JobStatus.RUNNING, 60, "the slow job to run")
        throwaway_redis.stop()  # while the worker is inside the job
        wait_until(lambda: status_of(slow) is JobStatus.COMPLETED, 90, "the slow job to finish")
        # Its clean-up met the outage. Redis comes back empty; the same worker runs the next job.
        throwaway_redis.start()
        quick = submit(client, headers)
        wait_until(lambda: status_of(quick) is JobStatus.COMPLETED, 90, "a job after the outage")
        assert worker.poll() is None, "the worker quit during the Redis outage"
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, "readiness again")

        # No worker at all: readiness says so (the web pods' probe can leave it out).
        worker.kill()
        worker.wait(timeout=10)
        gone = wait_until(
            lambda: (r := client.get("/readyz")).status_code == 503 and r, 60, "readiness 503"
        )
        assert gone.get_json()["checks"] == {"database": True, "redis": True, "workers": False}
        assert "workers: no worker has beaten in 15 s" in gone.get_json()["reasons"]
        web = client.get("/readyz?workers=0")
        assert web.status_code == 200 and web.get_json()["checks"]["workers"] is False
        db.session.remove()


# -- finding 2: SIGTERM is not graceful ----------------------------------------------------


def test_sigterm_lets_the_running_job_finish_takes_no_new_one_and_exits(
    client, committed_db, catalogue, start_worker
):
    user = UserFactory()
    committed_db.commit()
    headers = bearer(user.id)
    slow = submit(client, headers, SLOW, shots=10)
    later = submit(client, headers)
    worker = start_worker()
    wait_until(lambda: status_of(slow) is JobStatus.RUNNING, 90, "the slow job to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    jobs = statuses([slow, later])
    assert jobs[slow].status is JobStatus.COMPLETED, jobs[slow].failure_reason
    assert sum(jobs[slow].result.counts.values()) == 10
    assert jobs[later].status is JobStatus.QUEUED  # the stopping worker took no new job


def test_sigterm_past_the_grace_period_hands_the_job_back_never_fails_it(
    client, committed_db, catalogue, start_worker
):
    """With no grace at all the job is handed back at the first moment the worker can act
    (Aer holds the GIL while it simulates, so that may be only once the simulation is done,
    and the job may complete instead): QUEUED with the attempt not counted, or COMPLETED;
    never FAILED. A handed-back job is run by the next worker."""
    user = UserFactory()
    committed_db.commit()
    headers = bearer(user.id)
    slow = submit(client, headers, SLOW, shots=10)
    worker = start_worker(QH_WORKER_STOP_GRACE_SECONDS="0")
    wait_until(lambda: status_of(slow) is JobStatus.RUNNING, 90, "the slow job to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    job = statuses([slow])[slow]
    assert job.status in {JobStatus.QUEUED, JobStatus.COMPLETED}, job.failure_reason
    if job.status is JobStatus.QUEUED:
        assert job.attempts == 0 and job.started_at is None
        start_worker()
        wait_until(lambda: status_of(slow) is JobStatus.COMPLETED, 120, "the job to run again")
        assert statuses([slow])[slow].attempts == 1


# -- finding 3: two reconcilers count one loss twice ---------------------------------------


def test_two_reconcilers_count_one_loss_once(client, committed_db, catalogue):
    user = UserFactory()
    committed_db.commit()
    headers = bearer(user.id)
    lost = [submit(client, headers) for _ in range(25)]
    Redis.from_url(redis_url()).flushdb()  # the queue forgets them all
    committed_db.execute(
        sa.update(Job)
        .where(Job.id.in_(lost))
        .values(queued_at=sa.func.now() - sa.text(f"interval '{QUEUE_GRACE_SECONDS + 30} seconds'"))
    )
    committed_db.commit()
    db.session.remove()

    # Two reconciler processes start their passes at the same moment: both wait on a lock
    # the test holds on the jobs table, then read the same lost jobs.
    url = database_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as gate:
        gate.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "reconcile"],
                cwd=ROOT,
                env=worker_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(2)
        ]

        def both_waiting():
            with psycopg.connect(url, autocommit=True) as conn:
                return (
                    conn.execute(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'jobs' AND NOT l.granted"
                    ).fetchone()[0]
                    >= 2
                )

        wait_until(both_waiting, 60, "both reconcilers to reach the jobs table", interval=0.1)
        gate.commit()  # both passes go
    requeued = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        requeued += int(re.search(r"requeued=(\d+)", out).group(1))
    assert requeued == len(lost)
    jobs = statuses(lost)
    assert {job.attempts for job in jobs.values()} == {1}  # one loss, counted once
    assert Redis.from_url(redis_url()).llen("rq:queue:jobs") == len(lost)


# -- finding 4: a result that could not be written is blamed on a dead worker --------------


@pytest.fixture
def on_throwaway_servers(throwaway_postgres, throwaway_redis, own_database):
    """An app on a throwaway cluster (migrated, with the catalogue and a user) and Redis."""
    url = throwaway_postgres.url.replace("postgresql://", "postgresql+psycopg://")
    application = create_app(
        make_config(
            SQLALCHEMY_DATABASE_URI=url,
            REDIS_URL=throwaway_redis.url,
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
            RATELIMIT_ENABLED=False,
        )
    )
    with application.app_context():
        upgrade(revision="heads")
        ensure_catalogue()
        user = UserFactory()
        db.session.commit()
        yield application, bearer(user.id)
        db.session.remove()
        db.engine.dispose()


def test_a_result_written_during_a_postgres_outage_is_stored_once_it_is_back(
    on_throwaway_servers, throwaway_postgres, throwaway_redis, start_worker
):
    application, headers = on_throwaway_servers
    client = application.test_client()
    slow = submit(client, headers, SLOW, shots=10)
    redis = Redis.from_url(throwaway_redis.url)
    # One worker with its reconciler running every 0.5 s: the reconciler thread runs while
    # the main thread waits for the database.
    start_worker(
        "--reconcile-every", "0.5",
        QH_DATABASE_URL=throwaway_postgres.url, QH_REDIS_URL=throwaway_redis.url,
    )  # fmt: skip
    wait_until(lambda: status_of(slow) is JobStatus.RUNNING, 90, "the slow job to run")
    db.session.remove()
    db.engine.dispose()
    throwaway_postgres.stop()
    # The simulation ends; the worker holds the result and says it is retrying the write.
    wait_until(lambda: redis.exists(STORING_KEY.format(slow)), 90, "the worker to retry")
    throwaway_postgres.start()
    job = wait_until(
        lambda: (j := statuses([slow])[slow]).status is not JobStatus.RUNNING and j,
        90,
        "the job to leave RUNNING",
        interval=0.2,
    )
    assert job.status is JobStatus.COMPLETED, job.failure_reason
    assert sum(job.result.counts.values()) == 10
    wait_until(lambda: not redis.exists(STORING_KEY.format(slow)), 30, "the marker to go")
    redis.close()
