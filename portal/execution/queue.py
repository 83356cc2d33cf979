"""The job queue adapter (RQ on Redis): hand a committed job to the queue, take it out again,
inspect what the queue holds, and the queue figures the pages show (position, wait estimate).

PostgreSQL is the system of record; the queue is only how a worker hears of a job. Losing
an entry costs a delay, never the job: ``reconciler`` enqueues it again.
"""

from __future__ import annotations

import functools
import time
import uuid

import sqlalchemy as sa
import structlog
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob

from portal.core.extensions import db
from portal.core.heartbeats import BEAT_KEY
from portal.core.queue import job_queue, redis_connection
from portal.core.tracing import inject_context
from portal.execution.models import Hardware, Job, JobStatus

log = structlog.get_logger("portal.execution")

TIMEOUT_GRACE_SECONDS = 30  # RQ's own timeout is the job's limit plus this


def queue_position(job: Job) -> int | None:
    """1 = next to run; None once the job has left the queue."""
    if job.status is not JobStatus.QUEUED:
        return None
    ahead = db.session.execute(_queued_ahead(), {"queued_at": job.queued_at}).scalar_one()
    return ahead + 1


@functools.cache
def _queued_ahead():
    """Jobs still queued that were queued before ``queued_at`` (ix_jobs_queued_at_queued)."""
    return (
        sa.select(sa.func.count())
        .select_from(Job)
        .where(Job.status == JobStatus.QUEUED, Job.queued_at < sa.bindparam("queued_at"))
    )


RECENT_RUNS = 20  # completed jobs whose run times make the wait estimate
WORKER_SEEN_SECONDS = 60


def _reused(name: str, key, compute):
    """``compute()``, reused by this process for ``WAIT_ESTIMATE_CACHE_SECONDS``: the wait
    estimate's inputs are the same for every job page and poll, and a few seconds old is
    as good as new for "about N s"."""
    ttl = float(current_app.config.get("WAIT_ESTIMATE_CACHE_SECONDS") or 0)
    if ttl <= 0:
        return compute()
    memo = current_app.extensions.setdefault("qh_wait_inputs", {})
    now = time.monotonic()
    hit = memo.get((name, key))
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    memo[(name, key)] = (now + ttl, value)
    return value


def recent_run_seconds(device: str | None) -> float | None:
    """The median run time (started → finished) of the last RECENT_RUNS completed jobs on
    ``device`` (on the catalogue's devices when it has none yet), or None with no history."""
    return _reused("recent_runs", device, lambda: _median_run_seconds(device))


def _median_run_seconds(device: str | None) -> float | None:
    median = None
    if device:
        median = db.session.execute(_device_runs(), {"device": device}).scalar()
    if median is None:  # no history on this device yet: the catalogue's
        median = db.session.execute(_catalogue_runs()).scalar()
    return float(median) if median is not None else None


def _latest_runs(device):
    """The seconds and finish time of the latest RECENT_RUNS completed jobs on ``device`` (a
    column or a parameter): a backward range scan of ix_jobs_device_id_finished_at_completed."""
    return (
        sa.select(
            sa.extract("epoch", Job.finished_at - Job.started_at).label("seconds"),
            Job.finished_at,
        )
        .where(
            Job.status == JobStatus.COMPLETED,
            Job.device_id == device,
            Job.started_at.is_not(None),
            Job.finished_at.is_not(None),
        )
        .order_by(Job.finished_at.desc())
        .limit(RECENT_RUNS)
    )


def _median_of(recent):
    return sa.select(sa.func.percentile_cont(0.5).within_group(recent.c.seconds))


@functools.cache
def _device_runs():
    return _median_of(_latest_runs(sa.bindparam("device")).subquery())


@functools.cache
def _catalogue_runs():
    """The median over the latest RECENT_RUNS completed jobs of all catalogue devices: each
    device's latest (one index range each, LATERAL), then the latest of those, instead of
    sorting every completed job."""
    per_device = _latest_runs(Hardware.name).lateral()
    recent = (
        sa.select(per_device.c.seconds)
        .select_from(Hardware)
        .join(per_device, sa.true())
        .order_by(per_device.c.finished_at.desc())
        .limit(RECENT_RUNS)
        .subquery()
    )
    return _median_of(recent)


def workers_seen() -> int:
    """Workers that beat within the last minute (``portal.core.heartbeats``); 1 when unknown."""
    return _reused("workers_seen", None, _workers_seen)


def _workers_seen() -> int:
    try:
        seen = redis_connection().zcount(BEAT_KEY, time.time() - WORKER_SEEN_SECONDS, "+inf")
    except Exception:  # Redis down: the estimate assumes one worker
        return 1
    return max(1, int(seen))


def wait_estimate(job: Job, position: int | None = None) -> float | None:
    """Seconds a queued job may wait: median recent run time * its position / workers seen
    (a rough guide: it ignores jobs on other devices sharing the workers)."""
    position = position if position is not None else queue_position(job)
    if position is None:
        return None
    median = recent_run_seconds(job.device_id)
    if median is None:
        return None
    return median * position / workers_seen()


def rq_job_id(job_id: uuid.UUID | str) -> str:
    """The RQ job id of a portal job (one RQ job per portal job)."""
    return f"qh-{job_id}"


def dispatch(job_id: uuid.UUID) -> int | None:
    """Hand a committed QUEUED job to the queue.

    Call only after the transaction that wrote the job has committed. If enqueueing fails
    the job stays QUEUED and the reconciler enqueues it later. Returns the job's place in
    the queue (the queue's length right after the push, read in the same Redis round trip),
    or None when it was not enqueued.
    """
    timeout = current_app.config["JOB_TIMEOUT_SECONDS"]
    try:
        queue = job_queue()
        carrier = inject_context()  # empty unless tracing is on
        rq_job = queue.create_job(
            "workers.jobs.run",
            args=(str(job_id),),
            kwargs={"trace": carrier} if carrier else None,
            job_id=rq_job_id(job_id),
            timeout=timeout + TIMEOUT_GRACE_SECONDS,
            result_ttl=60,
            failure_ttl=24 * 3600,
        )
        # One pipeline (one round trip): save the RQ job, push it, read the queue length.
        with queue.connection.pipeline() as pipe:
            queue.enqueue_job(rq_job, pipeline=pipe)
            pipe.llen(queue.key)
            return int(pipe.execute()[-1])
    except Exception as exc:  # Redis down: the reconciler retries
        log.warning("enqueue failed; the reconciler will retry", job_id=str(job_id), error=str(exc))
        return None


def drop_from_queue(job_id: uuid.UUID) -> None:
    """Take a cancelled job's entry out of the queue (best effort)."""
    try:
        RQJob.fetch(rq_job_id(job_id), connection=redis_connection()).cancel()
    except Exception as exc:  # already gone or running: the worker skips non-QUEUED jobs
        log.debug("queue entry not removed", job_id=str(job_id), error=str(exc))


def waiting_ids() -> set[bytes]:
    """RQ job ids waiting in the queue (one LRANGE per reconciler pass)."""
    queue = job_queue()
    return set(queue.connection.lrange(queue.key, 0, -1))


def in_redis(job_id: uuid.UUID, waiting: set[bytes] | None = None) -> bool:
    """Whether the queue still holds the job: started/scheduled/deferred, or "queued" and
    really waiting in the list. A "queued" job that is not in the list was popped by a worker
    that died before claiming it (the lean worker path never marks it started)."""
    try:
        rq_job = RQJob.fetch(rq_job_id(job_id), connection=redis_connection())
    except NoSuchJobError:
        return False
    status = rq_job.get_status(refresh=False)
    status = str(getattr(status, "value", status))
    if status == "queued":
        waiting = waiting_ids() if waiting is None else waiting
        return rq_job_id(job_id).encode() in waiting
    return status in {"started", "scheduled", "deferred"}
