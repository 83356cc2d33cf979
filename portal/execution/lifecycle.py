"""What a job's end writes, whoever ends it (the worker, a cancel, the reconciler): the
terminal state and its time and reason, the result row, the charge, the owner's notification,
the usage counter and the webhook's first delivery -- all in the caller's transaction.

A worker's completion (``running`` then ``complete``, every successful job) uses no ORM entity
of the job: it reads only the columns it needs and writes the job, its result and the
notification in one statement; a failure, a cancel and the reconciler go through the ORM
(``finish``, ``fail``).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.apps.models import AppVersion
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution import events
from portal.execution.models import Hardware, Job, JobResult, JobStatus
from portal.execution.pricing import actual_cost, run_fee


def finish(job: Job, status: JobStatus, reason: str | None = None) -> None:
    """The terminal state, its time and reason; a job with a webhook gets its first delivery
    in the same transaction."""
    job.status = status
    job.finished_at = utcnow()
    if reason:
        job.failure_reason = reason
    events.job_finished.send(job)  # the webhook's first delivery, in the same transaction


@dataclass(slots=True)
class Device:
    """What a worker's finish reads of the job's device: its name and configuration (the
    result's figures) and its prices (the charge, ``pricing.actual_cost``)."""

    name: str
    backend_config: dict[str, Any] | None
    cost_per_job: Decimal | None
    cost_per_shot: Decimal | None
    cost_per_hour: Decimal | None


@dataclass(slots=True)
class RunningJob:
    """A job as a worker's finish reads it under its row lock (``running``): only the columns
    the finish needs, no ORM entity. It is also the sender of the finish's signals, with the
    attributes their receivers read of a job (id, user_id, name, shots, status, webhook_url)."""

    id: uuid.UUID
    status: JobStatus
    user_id: uuid.UUID
    name: str | None
    shots: int
    webhook_url: str | None
    started_at: datetime | None
    queued_at: datetime | None
    scaling_config: dict[str, Any] | None
    subscription_id: uuid.UUID | None
    app_id: uuid.UUID | None  # the app of an app's run (the usage counter names it)
    device: Device | None  # None: the device was removed
    # The owner, held so it stays in the session's (weak) identity map: the notification's
    # e-mail check gets it from there instead of reading it again.
    owner: User


# Every job's finish: built once, so their compiled forms are reused.
@functools.cache
def _running_statement():
    jobs, hardware, versions = Job.__table__, Hardware.__table__, AppVersion.__table__
    return (
        sa.select(
            # The owner, into the session: the notification's e-mail check reads it there.
            User,
            jobs.c.status,
            jobs.c.name,
            jobs.c.shots,
            jobs.c.webhook_url,
            jobs.c.started_at,
            jobs.c.queued_at,
            jobs.c.scaling_config,
            jobs.c.subscription_id,
            versions.c.quantum_app_id,
            hardware.c.name,
            hardware.c.backend_config,
            hardware.c.cost_per_job,
            hardware.c.cost_per_shot,
            hardware.c.cost_per_hour,
        )
        .select_from(jobs)
        .join(User, User.id == jobs.c.user_id)
        .outerjoin(hardware, hardware.c.id == jobs.c.hardware_id)
        .outerjoin(versions, versions.c.id == jobs.c.app_version_id)
        .where(jobs.c.id == sa.bindparam("job_id"))
        .with_for_update(of=jobs)
        .execution_options(populate_existing=True)
    )


def running(job_id: uuid.UUID) -> RunningJob | None:
    """The job under its row lock, with what its completion needs (one read); None when it
    is gone. Its status may no longer be RUNNING (cancelled, or failed by the reconciler)."""
    row = db.session.execute(_running_statement(), {"job_id": job_id}).first()
    if row is None:
        return None
    user, *job, app_id, device_name = row[:11]
    device = Device(device_name, *row[11:]) if device_name is not None else None
    return RunningJob(job_id, job[0], user.id, *job[1:], app_id, device, user)


_RESULT_INSERT = (
    "INSERT INTO job_results (id, created_at, updated_at, job_id, status, counts,"
    " execution_time, result_data) VALUES (:result_id, :now, :now, :job_id, 'COMPLETED',"
    " :counts, :execution_time, :result_data)"
)
_JOB_UPDATE = (
    "UPDATE jobs SET status = :status, finished_at = :now, actual_cost = :actual_cost,"
    " updated_at = :now WHERE id = :job_id"
)


@functools.cache
def _completion_statement(writes: tuple[str, ...]):
    """One statement for the job, its result and the receivers' ``writes``: a data-modifying
    CTE, one round trip. Text, built once per set of writes (so it is compiled once)."""
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate((_RESULT_INSERT, *writes)))
    jobs, results = Job.__table__, JobResult.__table__
    return sa.text(f"WITH {ctes} {_JOB_UPDATE}").bindparams(
        sa.bindparam("status", type_=jobs.c.status.type),
        sa.bindparam("now", type_=jobs.c.finished_at.type),
        sa.bindparam("actual_cost", type_=jobs.c.actual_cost.type),
        sa.bindparam("counts", type_=results.c.counts.type),
        sa.bindparam("result_data", type_=results.c.result_data.type),
    )


def complete(job: RunningJob, outcome, wall: float) -> None:
    """COMPLETED with the run's result and figures, charged (a plan's runs carry no device
    fee), the owner notified and the usage counted, in the caller's transaction: the job,
    its result and the notification in one statement, then the usage counter."""
    device = job.device
    queue_wait = (job.started_at - job.queued_at).total_seconds() if job.queued_at else None
    config = device.backend_config or {}
    result_data = {
        "backend": device.name,
        "method": getattr(outcome, "method", None) or config.get("method"),
        "device_like": bool(config.get("device")),
        "circuit": (job.scaling_config or {}).get("figures"),
        "transpiled": outcome.transpiled,
        "transpile_cached": outcome.transpile_cached,
        "measured_all": outcome.measured_all,
        "timings_ms": {
            **outcome.timings_ms,
            "worker_total_ms": round(wall * 1e3, 3),
            "queue_wait_ms": round(queue_wait * 1e3, 3) if queue_wait is not None else None,
        },
        **getattr(outcome, "extra", {}),  # memory, seed, primitive results (primitives.py)
    }
    job.status = JobStatus.COMPLETED
    events.job_finished.send(job)  # the webhook's first delivery, in the same transaction
    # The notification joins the statement below: each receiver adds (sql, params), its
    # parameters prefixed with its own name (``notifications.services.notification_write``).
    writes: list[tuple[str, dict[str, Any]]] = []
    events.job_completed.send(job, hardware=device, writes=writes)
    params = {
        "job_id": job.id,
        "status": JobStatus.COMPLETED,
        "now": utcnow(),
        "actual_cost": run_fee(
            actual_cost(device, job.shots, outcome.execution_seconds), job.subscription_id
        ),
        "result_id": uuid.uuid4(),
        "counts": outcome.counts,
        "execution_time": outcome.execution_seconds,
        "result_data": result_data,
    }
    for _, extra in writes:
        if params.keys() & extra.keys():
            raise ValueError(f"clashing parameters: {sorted(params.keys() & extra.keys())}")
        params.update(extra)
    db.session.execute(_completion_statement(tuple(sql for sql, _ in writes)), params)
    # Last before the commit: the usage counter is one row per user and day, locked until
    # the commit, so every other write is done before it and two workers finishing the same
    # user's jobs wait on each other for as short as possible.
    events.usage_counted.send(
        job,
        endpoint="jobs" if job.app_id is None else "apps.run",
        quantum_app_id=job.app_id,
        compute_seconds=outcome.execution_seconds,
    )


def fail(job: Job, reason: str) -> None:
    """FAILED with ``reason`` (kept on the result too) and the owner notified."""
    finish(job, JobStatus.FAILED, reason)
    if job.result is None:
        job.result = JobResult(status="FAILED", error=reason)
    events.job_failed.send(job, reason=reason)  # the owner notified
