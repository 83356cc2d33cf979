"""Workers killed mid-job and Redis restarted with jobs queued: no job is lost or stuck.

Real processes: ``flask --app wsgi worker`` subprocesses on the test database, and for the
Redis restart a throwaway ``redis-server`` without persistence (the shared Redis on 6379 is
never restarted). The reconciler runs inside the replacement worker (``--reconcile-every``),
as in production.
"""

from __future__ import annotations

import signal

import pytest
import sqlalchemy as sa
from redis import Redis

from portal import create_app
from portal.accounts.tokens import issue_tokens
from portal.core.extensions import db
from portal.execution.models import Job, JobStatus
from portal.execution.reconciler import QUEUE_GRACE_SECONDS
from tests.conftest import make_config
from tests.factories.accounts import UserFactory
from tests.faults.conftest import wait_until
from tests.integration.execution.test_worker import GHZ, SLOW

pytestmark = pytest.mark.timeout(150)
TERMINAL = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def statuses(ids) -> dict[str, Job]:
    db.session.remove()  # a fresh snapshot: the worker commits from another process
    jobs = db.session.execute(db.select(Job).where(Job.id.in_(ids))).scalars().all()
    return {str(job.id): job for job in jobs}


def all_terminal(ids):
    jobs = statuses(ids)
    return jobs if all(job.status in TERMINAL for job in jobs.values()) else None


def submit(client, headers, source=GHZ, shots=20) -> str:
    resp = client.post(
        "/api/v1/jobs",
        json={"program": {"source": source}, "device": "aer-simulator", "shots": shots},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_sigkilled_worker_leaves_no_job_running_or_queued(
    client, committed_db, catalogue, start_worker
):
    user = UserFactory()
    committed_db.commit()
    headers = {"Authorization": f"Bearer {issue_tokens(user).access_token}"}
    committed_db.commit()
    slow = submit(client, headers, SLOW, shots=10)
    quick = [submit(client, headers) for _ in range(3)]

    first = start_worker()
    wait_until(lambda: statuses([slow])[slow].status is JobStatus.RUNNING, 60, "the slow job")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    jobs = statuses([slow, *quick])
    assert jobs[slow].status is JobStatus.RUNNING  # stuck until something notices
    assert {jobs[j].status for j in quick} == {JobStatus.QUEUED}

    # A replacement worker with its reconciler (every 0.5 s here; 15 s by default).
    start_worker("--reconcile-every", "0.5")
    jobs = wait_until(lambda: all_terminal([slow, *quick]), 90, "every job to finish")
    assert jobs[slow].status is JobStatus.FAILED
    assert "stopped before it finished" in jobs[slow].failure_reason
    assert jobs[slow].finished_at is not None and jobs[slow].result.error
    for job_id in quick:
        assert jobs[job_id].status is JobStatus.COMPLETED, jobs[job_id].failure_reason
        assert sum(jobs[job_id].result.counts.values()) == 20
    db.session.remove()
    stuck = db.session.execute(
        db.select(sa.func.count())
        .select_from(Job)
        .where(Job.status.in_([JobStatus.RUNNING, JobStatus.QUEUED]))
    ).scalar_one()
    assert stuck == 0


def test_redis_restart_loses_the_queue_but_no_job(
    committed_db, catalogue, start_worker, throwaway_redis
):
    user = UserFactory()
    committed_db.commit()
    user_id = user.id
    # The portal under test talks to the throwaway Redis; the database is the run's.
    portal = create_app(make_config(REDIS_URL=throwaway_redis.url))
    with portal.app_context():
        client = portal.test_client()
        token = issue_tokens(db.session.get(type(user), user_id)).access_token
        headers = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        queued = [submit(client, headers) for _ in range(3)]
        redis = Redis.from_url(throwaway_redis.url)
        assert redis.llen("rq:queue:jobs") == 3
        redis.close()

        throwaway_redis.stop()
        # Submitting while Redis is down still works: the job is in the database and the
        # reconciler enqueues it later. Readiness says what is missing.
        queued.append(submit(client, headers))
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"] is False

        throwaway_redis.start()  # same port, empty: --save "" keeps nothing
        redis = Redis.from_url(throwaway_redis.url)
        assert redis.llen("rq:queue:jobs") == 0
        redis.close()
        assert client.get("/readyz").status_code == 200
        db.session.remove()

    # The reconciler leaves QUEUED jobs alone for a grace period (the enqueue may be in
    # flight); pretend it has passed instead of waiting for it.
    committed_db.execute(
        sa.update(Job)
        .where(Job.id.in_(queued))
        .values(queued_at=sa.func.now() - sa.text(f"interval '{QUEUE_GRACE_SECONDS + 30} seconds'"))
    )
    committed_db.commit()
    start_worker("--reconcile-every", "0.5", QH_REDIS_URL=throwaway_redis.url)
    jobs = wait_until(lambda: all_terminal(queued), 90, "every job to finish")
    for job in jobs.values():
        assert job.status is JobStatus.COMPLETED, job.failure_reason
        assert job.attempts == 2  # one loss recorded by the reconciler, one run
