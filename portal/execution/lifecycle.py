"""What a job's end writes, whoever ends it (the worker, a cancel, the reconciler): the
terminal state and its time and reason, the result row, the charge, the owner's notification,
the usage counter and the webhook's first delivery -- all in the caller's transaction.
"""

from __future__ import annotations

import uuid

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


def complete(job: Job, hardware: Hardware, outcome, wall: float) -> None:
    """COMPLETED with the run's result and figures, charged (a plan's runs carry no device
    fee), the owner notified and the usage counted."""
    queue_wait = (job.started_at - job.queued_at).total_seconds() if job.queued_at else None
    job.result = JobResult(
        status="COMPLETED",
        counts=outcome.counts,
        execution_time=outcome.execution_seconds,
        result_data={
            "backend": hardware.name,
            "method": getattr(outcome, "method", None)
            or (hardware.backend_config or {}).get("method"),
            "device_like": bool((hardware.backend_config or {}).get("device")),
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
        },
    )
    finish(job, JobStatus.COMPLETED)
    job.actual_cost = run_fee(
        actual_cost(hardware, job.shots, outcome.execution_seconds), job.subscription_id
    )
    app_id = _app_id_of(job)
    events.job_completed.send(job, hardware=hardware)  # the owner notified (flushes the job)
    # Last before the commit: the usage counter is one row per user and day, locked until
    # the commit, so every other write is done before it and two workers finishing the same
    # user's jobs wait on each other for as short as possible.
    events.usage_counted.send(
        job,
        endpoint="jobs" if app_id is None else "apps.run",
        quantum_app_id=app_id,
        compute_seconds=outcome.execution_seconds,
    )


def _app_id_of(job: Job) -> uuid.UUID | None:
    if job.app_version_id is None:
        return None
    version = db.session.get(AppVersion, job.app_version_id)
    return getattr(version, "quantum_app_id", None) or getattr(version, "app_id", None)


def fail(job: Job, reason: str) -> None:
    """FAILED with ``reason`` (kept on the result too) and the owner notified."""
    finish(job, JobStatus.FAILED, reason)
    if job.result is None:
        job.result = JobResult(status="FAILED", error=reason)
    events.job_failed.send(job, reason=reason)  # the owner notified
