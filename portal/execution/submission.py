"""What a user does to jobs: submit a circuit, an app version or a primitive job (every check
in ``submit_job``, before anything is queued), wait for a BLOCKING one, cancel one or many,
and retag one.

Lifecycle: ``submit_job`` validates everything and writes the job QUEUED (flush only); once
the unit of work commits it is handed to the queue (``queue.dispatch``), so a worker never
sees a job that is not in the database. The worker (``runner``) takes it from there and the
``reconciler`` makes sure nothing is lost or stuck.
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from portal.core import uow
from portal.core.db import utcnow
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.inputs import bounded_text
from portal.core.memo import BoundedCache
from portal.core.programs import FORMATS, detect_format, parse_program, resource_figures
from portal.core.uow import after_commit
from portal.core.urls import check_url
from portal.execution import events, policy, primitives
from portal.execution.backends import noise_model_version, program_hash
from portal.execution.hardware import get_hardware
from portal.execution.jobs import get_job
from portal.execution.lifecycle import finish
from portal.execution.models import Job, JobRunMode, JobStatus
from portal.execution.pricing import (
    check_available,
    check_fits,
    check_shots,
    estimate_cost,
    run_fee,
)
from portal.execution.queue import dispatch, drop_from_queue

log = structlog.get_logger("portal.execution")

MAX_TAGS = 10
MAX_BULK_CANCEL = 100


def _clean_tags(tags: Any) -> list[str] | None:
    if not tags:
        return None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationFailed("tags must be a list of short texts.", details={"tags": "list"})
    cleaned = sorted({t.strip() for t in tags if t.strip()})
    if any(len(t) > 50 for t in cleaned):  # refused, not cut short
        raise ValidationFailed(
            "A job tag has at most 50 characters.", details={"tags": "at most 50 characters each"}
        )
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(
            f"At most {MAX_TAGS} tags per job.", details={"tags": f"at most {MAX_TAGS}"}
        )
    return cleaned or None


def _resolve_program(program: str | None, fmt: str | None, app_version: Any) -> tuple[str, str]:
    if app_version is not None:
        if program:
            raise ValidationFailed(
                "Send either a program or an app version, not both.",
                details={"program": "not with app_version"},
            )
        source = app_version.entry_program
        if not source:
            raise ValidationFailed(
                "This app version has no OpenQASM program to run.",
                details={"app_version": "no program"},
            )
        return source, detect_format(source)
    if not program:
        raise ValidationFailed(
            "Send a program ({'format': 'qasm2'|'qasm3', 'source': '...'}) or an app version.",
            details={"program": "required"},
        )
    if fmt is not None and fmt not in FORMATS:
        raise ValidationFailed(
            f"Unknown format {fmt!r}; use 'qasm2' or 'qasm3'.", details={"format": list(FORMATS)}
        )
    return program, fmt or detect_format(program)


def submit_job(
    user,
    *,
    program: str | None = None,
    fmt: str | None = None,
    app_version: Any = None,
    inputs: dict[str, Any] | None = None,
    device: str | uuid.UUID,
    shots: int,
    run_mode: JobRunMode | str = JobRunMode.ASYNC,
    tags: list[str] | None = None,
    notification_email: str | None = None,
    subscription: Any = None,
    subscription_key: Any = None,
    name: str | None = None,
    webhook_url: str | None = None,
    primitive: str | None = None,
    pubs: Any = None,
    memory: Any = None,
    seed_simulator: Any = None,
    default_precision: float | None = None,
) -> Job:
    """Validate and write a QUEUED job (flushed); it is handed to the queue once the unit of
    work commits (a worker must never see a job that is not in the database).

    Everything that can be wrong is checked here, before anything is queued: the device
    exists and is online, the shots fit its bounds, the program parses (ProgramError with
    line and column), its inputs match, and the circuit fits the device.

    Who may run ``app_version`` is ``portal.execution.policy.check_can_run``: its developer
    (drafts included), anyone for a published version of a public Registry app, or the
    holder of ``subscription`` -- a marketplace job paid by a subscription the marketplace
    policy found active and covering the app (``portal.marketplace.runs.run_app``);
    anyone else gets 404, as for a private app. ``subscription_key``: the key that started
    the job (it may then read and cancel this job, and only its own jobs). ``webhook_url``:
    where a worker POSTs the job's final state (``portal.webhooks``).
    """
    policy.check_can_run(user, app_version, subscription)
    bounded_text("notification_email", notification_email, 100)  # VARCHAR(100)
    webhook_url = check_url(webhook_url)
    hardware = get_hardware(device)
    check_available(hardware)
    seed_simulator = primitives.check_seed(seed_simulator)
    if primitive is not None:
        memory = primitives.check_memory(memory, 0)
        if program or app_version is not None:
            raise ValidationFailed(
                "A primitive job takes its programs in 'pubs'; send no program or app version.",
                details={"program": "not with primitive"},
            )
        spec = primitives.submission(
            hardware,
            primitive,
            pubs,
            default_shots=shots,
            default_precision=default_precision,
            memory=memory,
        )
        source, fmt, figures, shots = spec.source, "qasm3", spec.figures, spec.shots
        name = name or f"{primitive} of {len(spec.pubs)} PUB(s) on {hardware.name}"
    else:
        shots = check_shots(hardware, shots)
        memory = primitives.check_memory(memory, shots)
        source, fmt = _resolve_program(program, fmt, app_version)
        figures = program_figures(source, fmt, inputs)
        figures["method"] = check_fits(hardware, figures)  # as planned; the result says as run
    if isinstance(run_mode, str):
        try:
            run_mode = JobRunMode(run_mode.upper())
        except ValueError:
            raise ValidationFailed(
                "run_mode must be BLOCKING or ASYNC.", details={"run_mode": ["BLOCKING", "ASYNC"]}
            ) from None
    estimate = run_fee(estimate_cost(hardware, shots), subscription)
    events.job_submitting.send(user, estimate=estimate)  # billing: 402 past the monthly budget
    now = utcnow()
    job = Job(
        user_id=user.id,
        subscription_id=getattr(subscription, "id", None),
        subscription_key_id=getattr(subscription_key, "id", None),
        app_version_id=getattr(app_version, "id", None),
        hardware_id=hardware.id,
        platform=hardware.platform.value,
        device_id=hardware.name[:50],
        run_mode=run_mode,
        status=JobStatus.QUEUED,
        program_format=fmt,
        program_source=source,
        inputs=inputs or None,
        shots=shots,
        tags=_clean_tags(tags),
        notification_email=notification_email or None,
        webhook_url=webhook_url,
        estimated_cost=estimate,
        name=(name or f"{figures['qubits']}-qubit circuit on {hardware.name}")[:100],
        queued_at=now,
        scaling_config={"figures": figures},
        primitive=primitive,
        pubs=[p.stored for p in spec.pubs] if primitive is not None else None,
        memory=memory,
        seed_simulator=seed_simulator,
        noise_model_version=noise_model_version(hardware.name, hardware.backend_config),
    )
    db.session.add(job)
    db.session.flush()
    events.job_queued.send(job)  # webhooks: the signing secret exists before the job can end
    job_id = job.id
    after_commit(lambda: dispatch(job_id))
    log.info("job queued", job_id=str(job.id), device=hardware.name, shots=shots)
    return job


_FIGURES = BoundedCache(512)  # program hash -> resource figures (see program_figures)


def program_figures(source: str, fmt: str | None, inputs: dict[str, Any] | None) -> dict:
    """Parse the program (ProgramError with line/column) and return its resource figures.

    Programs are resubmitted a lot (apps, sweeps, retries): figures of programs that parsed
    are kept per (source, format, inputs) hash in this process, so a resubmission skips the
    parse. Errors are never cached; a copy is returned, so callers may keep it."""
    figures = _FIGURES.get_or_compute(
        program_hash(source, fmt, inputs),
        lambda: resource_figures(parse_program(source, fmt, inputs)),
    )
    return copy.deepcopy(figures)


def wait_for(job: Job, seconds: float) -> Job:
    """BLOCKING run mode: commit the submission (which enqueues the job), then wait up to
    ``seconds`` for a worker to bring it to a terminal state."""
    uow.commit()
    deadline = time.monotonic() + seconds
    delay = 0.01
    while not job.status.is_terminal and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
        uow.commit()  # end the snapshot so the next read sees the worker's commit
        db.session.refresh(job)
    return job


def set_tags(user, job_id: str | uuid.UUID, tags: Any) -> Job:
    """Replace a job's tags (any state: tags are the owner's labels, not part of the run)."""
    job = get_job(user, job_id)
    if not policy.may_tag_job(user, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    if tags is None:
        tags = []
    job.tags = _clean_tags(tags)
    db.session.flush()
    return job


def parse_tags(raw: str) -> list[str]:
    """Tags typed into one field, separated by commas."""
    return [t for t in (part.strip() for part in (raw or "").split(",")) if t]


def cancel_job(user, job_id: str | uuid.UUID) -> Job:
    """Cancel a queued or running job (idempotent on a cancelled one).

    A queued job is removed from the queue; a running one is marked CANCELLED at once and
    the worker discards its result when the simulation returns (Aer cannot be interrupted
    mid-run). Nothing is charged for a cancelled job.
    """
    job = get_job(user, job_id)
    if not policy.may_cancel_job(user, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    db.session.refresh(job, with_for_update=True)
    if job.status is JobStatus.CANCELLED:
        return job
    if job.status.is_terminal:
        raise Conflict(
            f"The job is already {job.status.value.lower()}; only queued or running jobs can "
            "be cancelled.",
            details={"status": job.status.value},
        )
    was = job.status
    finish(job, JobStatus.CANCELLED, "Cancelled by the user.")
    db.session.flush()
    if was is JobStatus.QUEUED:
        drop_from_queue(job.id)
    log.info("job cancelled", job_id=str(job.id), was=was.value)
    return job


@dataclass
class BulkCancel:
    """What a bulk cancel did: the jobs cancelled and, per refused id, why."""

    cancelled: list[Job]
    refused: dict[str, str]  # job id -> why (not found, already finished)


def cancel_jobs(user, ids: list[Any]) -> BulkCancel:
    """Cancel several jobs with ``cancel_job``'s rules; a job that may not be cancelled
    (another user's, unknown, already finished) is reported and the others still are."""
    unique = list(dict.fromkeys(str(i) for i in ids if str(i).strip()))
    if not unique:
        raise ValidationFailed("Choose at least one job to cancel.", details={"ids": "required"})
    if len(unique) > MAX_BULK_CANCEL:
        raise ValidationFailed(
            f"At most {MAX_BULK_CANCEL} jobs at once.",
            details={"ids": f"at most {MAX_BULK_CANCEL}"},
        )
    done = BulkCancel([], {})
    for job_id in unique:
        try:
            done.cancelled.append(cancel_job(user, job_id))
        except NotFound:
            done.refused[job_id] = "not found"
        except Conflict as exc:
            done.refused[job_id] = exc.message
    return done
