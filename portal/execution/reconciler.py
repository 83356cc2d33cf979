"""The reconciler (every worker runs it on a schedule, and ``flask reconcile``): nothing
lost, nothing stuck. QUEUED jobs the queue lost are enqueued again; RUNNING jobs whose
worker died (its advisory lock is free, see ``runner``) or that ran past the time limit fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from flask import current_app

from portal.core import uow
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.heartbeats import is_storing
from portal.core.queue import redis_connection
from portal.execution.lifecycle import fail
from portal.execution.models import Job, JobStatus
from portal.execution.queue import dispatch, in_redis, waiting_ids
from portal.execution.runner import lock_key

log = structlog.get_logger("portal.execution")

MAX_ATTEMPTS = 3  # times the reconciler re-enqueues a job the queue lost
QUEUE_GRACE_SECONDS = 30  # a QUEUED job younger than this is left alone by the reconciler


@dataclass
class ReconcileReport:
    """What one pass did (logged by the worker's reconciler loop)."""

    requeued: int = 0
    failed_lost: int = 0
    failed_dead: int = 0
    failed_timeout: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _worker_alive(job: Job) -> bool:
    """Whether the process running ``job`` still holds its advisory lock."""
    key = lock_key(job.id)
    with db.engine.connect() as conn:
        got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
        if got:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
        conn.commit()
    return not got


def _worker_storing(job: Job) -> bool:
    """Whether the worker of ``job`` holds its result and is retrying the write: its lock
    can be free while it is alive (PostgreSQL restarted and took the lock with the
    connection)."""
    return is_storing(redis_connection(), job.id)


def reconcile(now: datetime | None = None) -> ReconcileReport:
    """Nothing lost, nothing stuck. Commits per job so one bad row cannot block the rest.

    - QUEUED jobs older than a grace period that Redis no longer has are enqueued again
      (after ``MAX_ATTEMPTS`` losses they fail).
    - RUNNING jobs whose worker died (its advisory lock is free) fail with that reason.
    - RUNNING jobs past ``JOB_TIMEOUT_SECONDS`` fail as timed out.
    """
    now = now or utcnow()
    report = ReconcileReport()
    timeout = current_app.config["JOB_TIMEOUT_SECONDS"]
    queued_before = now - timedelta(seconds=QUEUE_GRACE_SECONDS)
    queued = db.session.execute(
        db.select(Job.id, Job.queued_at).where(
            Job.status == JobStatus.QUEUED, Job.queued_at < queued_before
        )
    ).all()
    uow.rollback()
    waiting = waiting_ids() if queued else None
    for job_id, seen_queued_at in queued:
        if in_redis(job_id, waiting):
            continue
        job = db.session.get(Job, job_id, with_for_update=True, populate_existing=True)
        # Under the row lock: still QUEUED *and* still the queuing we saw. Another reconciler
        # (every worker runs one) that re-enqueued it meanwhile moved queued_at: one loss is
        # counted once however many reconcilers saw it.
        if job is None or job.status is not JobStatus.QUEUED or job.queued_at != seen_queued_at:
            uow.rollback()
            continue
        job.attempts = (job.attempts or 0) + 1
        if job.attempts > MAX_ATTEMPTS:
            fail(job, f"The queue lost this job {MAX_ATTEMPTS} times; please resubmit it.")
            report.failed_lost += 1
            uow.commit()
            continue
        job.queued_at = now
        uow.commit()
        report.requeued += 1
        log.warning("job re-enqueued", job_id=str(job_id), attempts=job.attempts)
        dispatch(job.id)

    running = (
        db.session.execute(db.select(Job.id).where(Job.status == JobStatus.RUNNING)).scalars().all()
    )
    for job_id in running:
        job = db.session.get(Job, job_id)
        if job is None:
            continue
        started = job.started_at or job.queued_at or now
        timed_out = (now - started).total_seconds() > timeout
        dead = not timed_out and not _worker_alive(job) and not _worker_storing(job)
        if not (timed_out or dead):
            uow.rollback()
            continue
        db.session.refresh(job, with_for_update=True)
        if job.status is not JobStatus.RUNNING:
            uow.rollback()
            continue
        if timed_out:
            fail(job, f"The job ran longer than the {timeout} s limit and was stopped.")
            report.failed_timeout += 1
        else:
            fail(
                job,
                f"The worker running this job ({job.platform_job_id or 'unknown'}) stopped "
                "before it finished. Please resubmit the job.",
            )
            report.failed_dead += 1
        uow.commit()
        log.warning("running job failed by reconciler", job_id=str(job_id), timed_out=timed_out)
    return report
