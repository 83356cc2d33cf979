"""What a job's end writes, whoever ends it (the worker, a cancel, the reconciler): the
terminal state and its time and reason, the result row, the charge, the owner's notification,
the usage counter and the webhook's first delivery -- all in the caller's transaction.

A worker's completion (``complete``, every successful job) uses no ORM entity of the job and
reads nothing: the claim returned what it needs (``RunningJob``), and one autocommit statement
writes the job, its result, the notification, the usage and a webhook's first delivery; a
failure, a cancel and the reconciler go through the ORM (``finish``, ``fail``).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.core.db import utcnow
from portal.execution import events
from portal.execution.models import Job, JobResult, JobStatus
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
    """What a worker's finish reads of the job's device, as the claim saw it: its name and
    configuration (the result's figures) and its prices (the charge, ``pricing.actual_cost``)."""

    name: str
    backend_config: dict[str, Any] | None
    cost_per_job: Decimal | None
    cost_per_shot: Decimal | None
    cost_per_hour: Decimal | None


@dataclass(slots=True)
class Owner:
    """What a completion's notification reads of the job's owner (the opt-in e-mail: its
    address, state and preferences), returned by the claim so that the finish reads nothing."""

    id: uuid.UUID
    username: str
    email: str | None
    full_name: str | None
    is_active: bool
    email_verified_at: datetime | None
    preferences: dict[str, Any] | None


@dataclass(slots=True)
class RunningJob:
    """A claimed job as its finish needs it, read by the claim's own statement
    (``runner._claim``): no ORM entity, no read at the finish. It is also the sender of the
    finish's signals, with the attributes their receivers read of a job (id, user_id, name,
    shots, status, webhook_url)."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    shots: int
    webhook_url: str | None
    started_at: datetime
    queued_at: datetime | None
    scaling_config: dict[str, Any] | None
    subscription_id: uuid.UUID | None
    app_id: uuid.UUID | None  # the app of an app's run (the usage counter names it)
    device: Device
    owner: Owner
    status: JobStatus = JobStatus.RUNNING


# ``IS TRUE``: the status check stays a filter, so the row is reached by its primary key
# (``runner._still`` says why).
_JOB_UPDATE = (
    "UPDATE jobs SET status = :status, finished_at = :now, actual_cost = :actual_cost,"
    " updated_at = :now WHERE id = :job_id AND (status = :running) IS TRUE"
    " AND hardware_id IS NOT NULL RETURNING id"
)
# The writes' rows come ``FROM done``: one row when the job was still RUNNING on its device,
# none when it was cancelled, failed by the reconciler or lost its device meanwhile.
_RESULT_INSERT = (
    "INSERT INTO job_results (id, created_at, updated_at, job_id, status, counts,"
    " execution_time, result_data) SELECT :result_id, :now, :now, :job_id, 'COMPLETED',"
    " :counts, :execution_time, :result_data FROM done"
)


@functools.cache
def _completion_statement(writes: tuple[str, ...]):
    """One statement for the job, its result and the receivers' ``writes``: data-modifying
    CTEs, one round trip, which returns the number of jobs completed (1, or 0). Text, built
    once per set of writes (so it is compiled once)."""
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate((_RESULT_INSERT, *writes)))
    sql = f"WITH done AS ({_JOB_UPDATE}), {ctes} SELECT count(*) FROM done"  # noqa: S608
    jobs, results = Job.__table__, JobResult.__table__
    return sa.text(sql).bindparams(
        sa.bindparam("status", type_=jobs.c.status.type),
        sa.bindparam("running", type_=jobs.c.status.type),
        sa.bindparam("now", type_=jobs.c.finished_at.type),
        sa.bindparam("actual_cost", type_=jobs.c.actual_cost.type),
        sa.bindparam("counts", type_=results.c.counts.type),
        sa.bindparam("result_data", type_=results.c.result_data.type),
    )


def complete(job: RunningJob, outcome, wall: float, conn: sa.Connection) -> bool:
    """COMPLETED with the run's result and figures, charged from the claim's prices (a plan's
    runs carry no device fee), the owner notified, the usage counted and a webhook's first
    delivery written: one autocommit statement on ``conn`` (the worker's lock connection),
    which writes nothing unless the job is still RUNNING on its device. Returns whether it
    was. The receivers' after-commit work (the e-mail, the webhook's enqueue) is registered
    with ``uow.after_commit``: the caller commits (no SQL) or rolls back the unit of work."""
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
    # Each receiver adds (sql, params) to the statement, its parameters prefixed with its
    # own name (``notifications.services.notification_write``: ``n_``).
    writes: list[tuple[str, dict[str, Any]]] = []
    events.job_finished.send(job, writes=writes)  # the webhook's first delivery
    events.job_completed.send(job, hardware=device, writes=writes)
    events.usage_counted.send(
        job,
        endpoint="jobs" if job.app_id is None else "apps.run",
        quantum_app_id=job.app_id,
        compute_seconds=outcome.execution_seconds,
        writes=writes,
    )
    params = {
        "job_id": job.id,
        "status": JobStatus.COMPLETED,
        "running": JobStatus.RUNNING,
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
    statement = _completion_statement(tuple(sql for sql, _ in writes))
    return conn.execute(statement, params).scalar_one() == 1


def fail(job: Job, reason: str) -> None:
    """FAILED with ``reason`` (kept on the result too) and the owner notified."""
    finish(job, JobStatus.FAILED, reason)
    if job.result is None:
        job.result = JobResult(status="FAILED", error=reason)
    events.job_failed.send(job, reason=reason)  # the owner notified
