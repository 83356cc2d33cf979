"""Execution rules: the catalogue, cost, submission, cancellation, the worker body and the
reconciler. Pages, the API, the worker and the CLI all call these functions.

Lifecycle: ``submit_job`` validates everything and writes the job QUEUED (flush only); the
caller commits and then calls ``dispatch`` — so a worker never sees a job that is not in the
database. ``run_job`` (the worker body) moves it to RUNNING, runs it and writes COMPLETED or
FAILED. ``reconcile`` makes sure nothing is lost or stuck.

Liveness of RUNNING jobs: the worker holds a session-level advisory lock keyed by the job id
on a dedicated connection while it runs the job. If the worker dies (even by SIGKILL)
PostgreSQL drops the connection and the lock, so the reconciler can take it and knows the
job is orphaned. A heartbeat thread would not do: Aer holds the GIL while it
simulates.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from flask import current_app
from sqlalchemy.orm import defer, joinedload

from portal.core import uow
from portal.core.db import utcnow
from portal.core.errors import NotFound, ValidationFailed
from portal.core.inputs import bounded_text
from portal.core.paging import MAX_PAGE
from portal.core.uow import after_commit
from portal.execution import policy
from portal.execution.models import (
    Hardware,
    HardwareStatus,
    HardwareTechnology,
    Job,
    JobResult,
    JobRunMode,
    JobStatus,
)
from portal.execution.programs import (
    CLIFFORD,
    FORMATS,
    detect_format,
    parse_program,
    resource_figures,
)
from portal.extensions import db

log = structlog.get_logger("portal.execution")

CENT = Decimal("0.01")
MAX_TAGS = 10
MAX_ATTEMPTS = 3  # times the reconciler re-enqueues a job the queue lost
QUEUE_GRACE_SECONDS = 30  # a QUEUED job younger than this is left alone by the reconciler
TIMEOUT_GRACE_SECONDS = 30


# -- the catalogue ---------------------------------------------------------------------------


def list_hardware(
    *,
    status: HardwareStatus | None = None,
    technology: HardwareTechnology | None = None,
    min_qubits: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Hardware], int]:
    """Catalogue entries matching the filters (retired ones only when asked), with a total."""
    page = min(max(1, page), MAX_PAGE)
    query = db.select(Hardware)
    if status is not None:
        query = query.where(Hardware.status == status)
    else:
        query = query.where(Hardware.status != HardwareStatus.RETIRED)
    if technology is not None:
        query = query.where(Hardware.technology_type == technology)
    if min_qubits is not None:
        query = query.where(Hardware.qubits >= min_qubits)
    total = db.session.execute(query.with_only_columns(sa.func.count())).scalar_one()
    items = (
        db.session.execute(
            query.order_by(Hardware.technology_type, Hardware.qubits, Hardware.name)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return items, total


def online_devices() -> list[Hardware]:
    """The devices a job can be sent to now, for pickers on the pages."""
    items, _ = list_hardware(status=HardwareStatus.ONLINE, per_page=100)
    return items


def run_defaults(user) -> tuple[str, int]:
    """The device and shots a new run starts with: the user's preferences, else the
    portal's defaults."""
    from portal.accounts.services import DEFAULT_PREFERENCES, preferences_for

    prefs = preferences_for(user)
    device = prefs.get("default_device") or DEFAULT_PREFERENCES["default_device"]
    try:
        shots = int(prefs.get("default_shots") or DEFAULT_PREFERENCES["default_shots"])
    except (TypeError, ValueError):
        shots = DEFAULT_PREFERENCES["default_shots"]
    return device, shots


def get_hardware(ident: str | uuid.UUID) -> Hardware:
    """A catalogue entry by id or name; NotFound saying how to list them."""
    hardware = None
    try:
        hardware = db.session.get(Hardware, uuid.UUID(str(ident)))
    except ValueError:
        hardware = db.session.execute(
            db.select(Hardware).filter_by(name=str(ident))
        ).scalar_one_or_none()
    if hardware is None:
        raise NotFound(
            f"No device named {str(ident)!r}. GET /api/v1/hardware lists the devices.",
            details={"device": str(ident)},
        )
    return hardware


def estimate_cost(hardware: Hardware, shots: int) -> Decimal:
    """Price before running: the per-job fee plus the per-shot price, rounded to cents."""
    per_job = hardware.cost_per_job or Decimal(0)
    per_shot = hardware.cost_per_shot or Decimal(0)
    return (per_job + per_shot * shots).quantize(CENT, rounding=ROUND_HALF_UP)


def actual_cost(hardware: Hardware, shots: int, seconds: float) -> Decimal:
    """What the run cost: the estimate plus compute time at the device's hourly price."""
    per_hour = hardware.cost_per_hour or Decimal(0)
    compute = per_hour * Decimal(str(round(seconds, 6))) / Decimal(3600)
    return (estimate_cost(hardware, shots) + compute).quantize(CENT, rounding=ROUND_HALF_UP)


def check_shots(hardware: Hardware, shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, int):
        raise ValidationFailed("shots must be a whole number.", details={"shots": "integer"})
    low, high = hardware.min_shots or 1, hardware.max_shots or 100_000
    if not low <= shots <= high:
        raise ValidationFailed(
            f"{hardware.name} takes between {low} and {high} shots; you asked for {shots}.",
            details={"shots": f"between {low} and {high}"},
        )
    return shots


def check_available(hardware: Hardware) -> None:
    if hardware.status is not HardwareStatus.ONLINE:
        raise ValidationFailed(
            f"{hardware.name} is {hardware.status.value.lower()} and takes no jobs; pick an "
            "online device (GET /api/v1/hardware?status=ONLINE).",
            code="device_unavailable",
            details={"device": hardware.name, "status": hardware.status.value},
        )


def check_fits(hardware: Hardware, figures: dict[str, Any]) -> str:
    """The circuit must fit the device: qubits, Clifford gates on the stabilizer method, and
    its state in the workers' memory budget (QH_WORKER_MEMORY_MB) with the method it will run
    with. Returns that method (``backends.choose_method``)."""
    if hardware.qubits is not None and figures["qubits"] > hardware.qubits:
        raise ValidationFailed(
            f"The circuit uses {figures['qubits']} qubits but {hardware.name} has "
            f"{hardware.qubits}. Pick a larger device or use fewer qubits.",
            code="too_many_qubits",
            details={"qubits": figures["qubits"], "device_qubits": hardware.qubits},
        )
    method = (hardware.backend_config or {}).get("method")
    if method == "stabilizer":
        other = sorted(set(figures["gate_counts"]) - CLIFFORD)
        if other:
            raise ValidationFailed(
                f"{hardware.name} simulates Clifford circuits only; this one uses "
                f"{', '.join(other)}. Pick aer-simulator instead.",
                code="unsupported_gates",
                details={"gates": other},
            )
    from portal.execution.backends import choose_method, memory_refusal, state_bytes
    from portal.execution.memory import memory_budget_mb

    budget = memory_budget_mb()
    chosen = choose_method(hardware.backend_config, figures, budget)
    refusal = memory_refusal(chosen, figures["qubits"], budget)
    if refusal:
        raise ValidationFailed(
            refusal,
            code="not_enough_memory",
            details={
                "qubits": figures["qubits"],
                "method": chosen,
                "state_bytes": state_bytes(chosen, figures["qubits"]),
                "memory_budget_mb": budget,
            },
        )
    return chosen


# -- submission ------------------------------------------------------------------------------


@dataclass
class Submission:
    job: Job
    figures: dict[str, Any]


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


def _resolve_program(
    program: str | None, fmt: str | None, app_version: Any, inputs: dict[str, Any] | None
) -> tuple[str, str]:
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
    policy found active and covering the app (``portal.marketplace.services.run_app``);
    anyone else gets 404, as for a private app. ``subscription_key``: the key that started
    the job (it may then read and cancel this job, and only its own jobs). ``webhook_url``:
    where a worker POSTs the job's final state (``portal.webhooks``).
    """
    policy.check_can_run(user, app_version, subscription)
    bounded_text("notification_email", notification_email, 100)  # VARCHAR(100)
    from portal.webhooks import services as webhooks

    webhook_url = webhooks.check_url(webhook_url)
    hardware = get_hardware(device)
    check_available(hardware)
    from portal.execution import primitives  # sampler/estimator jobs, memory, seeds

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
        source, fmt = _resolve_program(program, fmt, app_version, inputs)
        figures = program_figures(source, fmt, inputs)
        figures["method"] = check_fits(hardware, figures)  # as planned; the result says as run
    if isinstance(run_mode, str):
        try:
            run_mode = JobRunMode(run_mode.upper())
        except ValueError:
            raise ValidationFailed(
                "run_mode must be BLOCKING or ASYNC.", details={"run_mode": ["BLOCKING", "ASYNC"]}
            ) from None
    from portal.billing.services import check_budget, run_fee  # 402 past the monthly budget

    estimate = run_fee(estimate_cost(hardware, shots), subscription)
    check_budget(user, estimate)
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
        noise_model_version=primitives.noise_model_version(hardware.name, hardware.backend_config),
    )
    db.session.add(job)
    db.session.flush()
    if webhook_url:  # the signing secret exists before the job can end
        webhooks.ensure_secret(user.id)
    job_id = job.id
    after_commit(lambda: dispatch(job_id))
    log.info("job queued", job_id=str(job.id), device=hardware.name, shots=shots)
    return job


_FIGURES: OrderedDict[str, dict[str, Any]] = OrderedDict()
_FIGURES_SIZE = 512
_FIGURES_LOCK = threading.Lock()


def program_figures(source: str, fmt: str | None, inputs: dict[str, Any] | None) -> dict:
    """Parse the program (ProgramError with line/column) and return its resource figures.

    Programs are resubmitted a lot (apps, sweeps, retries): figures of programs that parsed
    are kept per (source, format, inputs) hash in this process, so a resubmission skips the
    parse. Errors are never cached; a copy is returned, so callers may keep it."""
    from portal.execution.backends import program_hash

    key = program_hash(source, fmt, inputs)
    with _FIGURES_LOCK:
        figures = _FIGURES.get(key)
        if figures is not None:
            _FIGURES.move_to_end(key)
    if figures is None:
        figures = resource_figures(parse_program(source, fmt, inputs))
        with _FIGURES_LOCK:
            _FIGURES[key] = figures
            while len(_FIGURES) > _FIGURES_SIZE:
                _FIGURES.popitem(last=False)
    return copy.deepcopy(figures)


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


def recent_run_seconds(device: str | None) -> float | None:
    """The median run time (started → finished) of the last RECENT_RUNS completed jobs on
    ``device`` (any device when it has none yet), or None with no history at all."""
    for where in ([Job.device_id == device], []) if device else ([],):
        recent = (
            sa.select((sa.extract("epoch", Job.finished_at - Job.started_at)).label("seconds"))
            .where(
                Job.status == JobStatus.COMPLETED,
                Job.started_at.is_not(None),
                Job.finished_at.is_not(None),
                *where,
            )
            .order_by(Job.finished_at.desc())
            .limit(RECENT_RUNS)
            .subquery()
        )
        median = db.session.execute(
            sa.select(sa.func.percentile_cont(0.5).within_group(recent.c.seconds))
        ).scalar()
        if median is not None:
            return float(median)
    return None


def workers_seen() -> int:
    """Workers that beat within the last minute (``portal.core.heartbeats``); 1 when unknown."""
    from portal.core.heartbeats import BEAT_KEY
    from portal.core.queue import redis_connection

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
    return f"qh-{job_id}"


def dispatch(job_id: uuid.UUID) -> int | None:
    """Hand a committed QUEUED job to the queue.

    Call only after the transaction that wrote the job has committed. If enqueueing fails
    the job stays QUEUED and the reconciler enqueues it later. Returns the job's place in
    the queue (the queue's length right after the push, read in the same Redis round trip),
    or None when it was not enqueued.
    """
    from portal.core.queue import job_queue

    timeout = current_app.config["JOB_TIMEOUT_SECONDS"]
    try:
        from portal.core.tracing import inject_context

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


# -- reading ---------------------------------------------------------------------------------


@functools.cache
def _job_by_id(with_result: bool):
    """Built once, on first use (the mappers are complete by then), so SQLAlchemy reuses its
    cache key: every job page and status poll runs it."""
    statement = sa.select(Job).where(Job.id == sa.bindparam("id"))
    return statement.options(joinedload(Job.result)) if with_result else statement


def get_job(user, job_id: str | uuid.UUID, *, with_result: bool = False) -> Job:
    """The job if ``user`` (a User or an Actor) may see it (``policy.may_see_job``); another
    user's job, a job a subscription key did not start, or a malformed id is NotFound (no
    existence leak). ``with_result`` joins its result into the same query (pages)."""
    try:
        key = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("No such job.") from None
    job = db.session.execute(_job_by_id(with_result), {"id": key}).unique().scalar()
    if job is None or not policy.may_see_job(user, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    return job


def list_jobs(
    user,
    *,
    status: JobStatus | None = None,
    device: str | None = None,
    tag: str | None = None,
    app_id: uuid.UUID | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Job], int]:
    """The jobs ``user`` may list, newest first, filtered: state, device, tag, app (any of
    its versions), submitted in [date_from, date_to), and ``q`` (a part of the name or tag,
    or the job's id)."""
    page = min(max(1, page), MAX_PAGE)  # a URL's page number can be any size (bigint OFFSET)
    query = db.select(Job).where(policy.job_filter(user))
    if status is not None:
        query = query.where(Job.status == status)
    if device:
        query = query.where(Job.device_id == device)
    if tag:
        query = query.where(Job.tags.any(tag))
    if app_id is not None:
        from portal.apps.models import AppVersion

        versions = sa.select(AppVersion.id).where(AppVersion.quantum_app_id == app_id)
        query = query.where(Job.app_version_id.in_(versions))
    if date_from is not None:
        query = query.where(Job.created_at >= date_from)
    if date_to is not None:
        query = query.where(Job.created_at < date_to)
    if q and q.strip():
        text = q.strip()[:100]
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [
            Job.name.ilike(pattern, escape="\\"),
            sa.func.array_to_string(Job.tags, " ").ilike(pattern, escape="\\"),
        ]
        with contextlib.suppress(ValueError):
            matches.append(Job.id == uuid.UUID(text))
        query = query.where(sa.or_(*matches))
    total = db.session.execute(query.with_only_columns(sa.func.count())).scalar_one()
    items = (
        db.session.execute(
            query.order_by(Job.created_at.desc(), Job.id)
            .options(defer(Job.program_source))  # lists never show the program text
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return items, total


def day_range(first: Any, last: Any) -> tuple[datetime | None, datetime | None]:
    """[first day 00:00 UTC, the day after the last day 00:00 UTC) of two dates (or None)."""
    from datetime import UTC

    def start(day: Any) -> datetime | None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None

    end = start(last)
    return start(first), end + timedelta(days=1) if end else None


def job_tags(user) -> list[str]:
    """Every tag on the jobs ``user`` may list (the filter's choices)."""
    tag = sa.func.unnest(Job.tags)
    rows = db.session.execute(sa.select(tag).where(policy.job_filter(user)).distinct())
    return sorted(t for t in rows.scalars() if t)


def job_devices(user) -> list[str]:
    """The devices ``user``'s jobs ran on (the filter's choices)."""
    rows = db.session.execute(
        sa.select(Job.device_id).where(policy.job_filter(user)).distinct()
    ).scalars()
    return sorted(d for d in rows if d)


def job_apps(user) -> list[tuple[uuid.UUID, str]]:
    """(app id, name) of the apps ``user``'s jobs ran (the filter's choices)."""
    from portal.apps.models import AppVersion, QuantumApp

    rows = db.session.execute(
        sa.select(QuantumApp.id, QuantumApp.name)
        .join(AppVersion, AppVersion.quantum_app_id == QuantumApp.id)
        .join(Job, Job.app_version_id == AppVersion.id)
        .where(policy.job_filter(user))
        .distinct()
    ).all()
    return sorted(((r.id, r.name) for r in rows), key=lambda r: r[1].lower())


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


def app_label(job: Job) -> str | None:
    """ "app X, version Y" for a job of an app version (what others see instead of the
    program), None for a plain circuit."""
    if job.app_version_id is None or job.app_version is None:
        return None
    version = job.app_version
    return f"app {version.app.name}, version {version.version_number}"


def result_document(job: Job) -> dict[str, Any]:
    """The raw result as stored: what the result endpoint and the download return."""
    result = job.result
    if result is None:
        return {}
    data = dict(result.result_data or {})
    from portal.execution.primitives import result_fields

    extra = result_fields(job, data)  # primitive results, memory, seed: out of metadata
    return {
        **extra,
        "job_id": str(job.id),
        "status": job.status.value,
        "device": job.device_id,
        "shots": job.shots,
        "counts": result.counts or {},
        "execution_time": result.execution_time,
        "transpiled_depth": (data.get("transpiled") or {}).get("depth"),
        "transpiled_size": (data.get("transpiled") or {}).get("size"),
        "metadata": data,
        "error": result.error,
    }


def outcome_rows(job: Job) -> list[tuple[str, int, float]]:
    """(outcome, count, probability) of a finished job, most frequent first."""
    counts = (job.result.counts if job.result else None) or {}
    total = sum(counts.values()) or 1
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(outcome, int(count), count / total) for outcome, count in rows]


def result_csv(job: Job) -> str:
    """The counts as CSV: outcome, count, probability (what spreadsheets and pandas read)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["outcome", "count", "probability"])
    for outcome, count, probability in outcome_rows(job):
        writer.writerow([outcome, count, f"{probability:.6f}"])
    return out.getvalue()


# -- cancellation ----------------------------------------------------------------------------


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
        from portal.core.errors import Conflict

        raise Conflict(
            f"The job is already {job.status.value.lower()}; only queued or running jobs can "
            "be cancelled.",
            details={"status": job.status.value},
        )
    was = job.status
    _finish(job, JobStatus.CANCELLED, "Cancelled by the user.")
    db.session.flush()
    if was is JobStatus.QUEUED:
        _drop_from_queue(job.id)
    log.info("job cancelled", job_id=str(job.id), was=was.value)
    return job


MAX_BULK_CANCEL = 100


@dataclass
class BulkCancel:
    cancelled: list[Job]
    refused: dict[str, str]  # job id -> why (not found, already finished)


def cancel_jobs(user, ids: list[Any]) -> BulkCancel:
    """Cancel several jobs with ``cancel_job``'s rules; a job that may not be cancelled
    (another user's, unknown, already finished) is reported and the others still are."""
    from portal.core.errors import Conflict

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


def _drop_from_queue(job_id: uuid.UUID) -> None:
    from portal.core.queue import redis_connection

    try:
        from rq.job import Job as RQJob

        RQJob.fetch(rq_job_id(job_id), connection=redis_connection()).cancel()
    except Exception as exc:  # already gone or running: the worker skips non-QUEUED jobs
        log.debug("queue entry not removed", job_id=str(job_id), error=str(exc))


def _finish(job: Job, status: JobStatus, reason: str | None = None) -> None:
    job.status = status
    job.finished_at = utcnow()
    if reason:
        job.failure_reason = reason
    if job.webhook_url:  # the first delivery, in the same transaction as the final state
        from portal.webhooks.services import job_finished

        job_finished(job)


# -- the worker body -------------------------------------------------------------------------


def _lock_key(job_id: uuid.UUID) -> int:
    return int.from_bytes(job_id.bytes[:8], "big", signed=True)


_kept = threading.local()  # a worker thread's lock connection, kept between jobs


class HandBack(BaseException):
    """Raised in a worker's simulation when its stop grace period ran out (SIGTERM): the job
    returns to QUEUED, its attempt not counted. A BaseException, so no catch-all on the way
    (the simulator's, the job body's) turns a shutdown into a FAILED job."""


def interruptible() -> bool:
    """Whether this thread is inside a simulation that a hand-back may interrupt (not in
    the middle of writing a result)."""
    return getattr(_kept, "simulating", False)


def _db_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)
    )


class _Liveness:
    """Holds the job's advisory lock on its own connection while the job runs.

    The connection is in autocommit mode: lock, claim and unlock are one round trip each
    (no BEGIN/COMMIT), and the claim runs on it too (see ``_claim``). A worker
    (``keep=True``) keeps it between jobs, which saves a pool checkout and its pre-ping per
    job; it is dropped on any error, so the next job starts on a fresh one."""

    def __init__(self, job_id: uuid.UUID, keep: bool = False):
        self.key = _lock_key(job_id)
        self.keep = keep
        self.conn = None

    def _connection(self):
        conn = getattr(_kept, "conn", None) if self.keep else None
        if conn is None or conn.closed or conn.invalidated or conn.engine is not db.engine:
            conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.keep:
                _kept.conn = conn
        return conn

    def _drop(self) -> None:
        if self.keep:
            _kept.conn = None
        self.conn.close()

    def __enter__(self):
        self.conn = self._connection()
        try:
            self.conn.execute(sa.select(sa.func.pg_advisory_lock(self.key)))
        except Exception:
            self._drop()
            raise
        return self

    def relock(self) -> None:
        """After the server went away (and the lock with its connection): a fresh connection
        and the lock again, before anything else is written."""
        with contextlib.suppress(Exception):
            self._drop()
        self.__enter__()

    def __exit__(self, *exc):
        try:
            self.conn.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
        except Exception:
            self._drop()  # closing it releases the lock too
            raise
        if not self.keep:
            self.conn.close()


_IDENTITY: str | None = None


def _worker_identity() -> str:
    global _IDENTITY
    if _IDENTITY is None or not _IDENTITY.endswith(f":{os.getpid()}"):
        _IDENTITY = f"{socket.gethostname()}:{os.getpid()}"[:100]
    return _IDENTITY


@dataclass
class _Claimed:
    source: str
    fmt: str | None
    inputs: dict[str, Any] | None
    shots: int
    hardware_name: str | None
    backend_config: dict[str, Any] | None
    primitive: str | None = None  # primitive jobs, memory and seeds (primitives.py)
    pubs: list[Any] | None = None
    memory: bool = False
    seed_simulator: int | None = None


def _claim(key: uuid.UUID, conn) -> _Claimed | None:
    """QUEUED → RUNNING in one atomic UPDATE, returning what the run needs; None when the job
    is no longer QUEUED (cancelled, or another worker took it). It runs on the autocommit
    lock connection, so RUNNING is visible at once."""
    jobs = Job.__table__
    hardware = Hardware.__table__

    def of_hardware(column):
        return sa.select(column).where(hardware.c.id == jobs.c.hardware_id).scalar_subquery()

    now = utcnow()
    stmt = (
        sa.update(jobs)
        .where(jobs.c.id == key, jobs.c.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            started_at=now,
            updated_at=now,
            attempts=sa.func.coalesce(jobs.c.attempts, 0) + 1,
            platform_job_id=_worker_identity(),
        )
        .returning(
            jobs.c.program_source,
            jobs.c.program_format,
            jobs.c.inputs,
            jobs.c.shots,
            of_hardware(hardware.c.name),
            of_hardware(hardware.c.backend_config),
            jobs.c.primitive,
            jobs.c.pubs,
            jobs.c.memory,
            jobs.c.seed_simulator,
        )
    )
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return _Claimed(row[0] or "", *row[1:6], row[6], row[7], bool(row[8]), row[9])


def run_job(job_id: str | uuid.UUID, *, worker: bool = False) -> JobStatus | None:
    """Run one job to a terminal state (the worker body, ``workers.jobs.run``).

    The job is claimed on the autocommit lock connection, so it must be committed first.
    ``worker=True`` (a worker process) keeps that connection for the next job; other
    callers (tests, one-off runs) close it.

    Commits its own transactions: RUNNING must be visible while the job runs. A job that
    is no longer QUEUED (cancelled, or already taken) is skipped. If the job was cancelled
    or failed by the reconciler while it ran, the result is discarded.

    Round trips are counted here (it is the worker's hot path): lock, claim, one read of
    job + device + result + owner with the row lock, the writes, commit, unlock.
    """

    from portal.execution import backends

    key = uuid.UUID(str(job_id))
    with _Liveness(key, keep=worker) as live:
        claimed = _claim(key, live.conn)
        if claimed is None:
            status = db.session.execute(
                sa.select(Job.status).where(Job.id == key)
            ).scalar_one_or_none()
            uow.rollback()
            log.info("job skipped", job_id=str(key), status=status.value if status else "missing")
            return status
        log.info("job running", job_id=str(key), device=claimed.hardware_name)

        outcome = error = None
        started = time.perf_counter()
        try:
            if claimed.hardware_name is None:
                raise backends.SimulationError("The device of this job no longer exists.")
            _kept.simulating = True
            try:
                from portal.execution.primitives import run_claimed

                outcome = run_claimed(claimed)  # a circuit (memory, seed) or a primitive job
            finally:
                _kept.simulating = False
        except HandBack:
            _hand_back(key, live)
            raise
        except backends.SimulationError as exc:
            error = str(exc)
        except ValidationFailed as exc:  # the device or program changed since submission
            error = exc.message
        except MemoryError:
            error = "Not enough memory to simulate this circuit; use fewer qubits."
        except Exception as exc:  # never leave a job RUNNING because of a bug
            log.exception("job crashed", job_id=str(key))
            error = f"The job failed unexpectedly ({type(exc).__name__}: {exc})."
        wall = time.perf_counter() - started
        return _store_retrying(key, live, outcome, error, wall)


def _hand_back(key: uuid.UUID, live: _Liveness) -> None:
    """RUNNING → QUEUED for a worker that is stopping; the claim's attempt is given back."""
    jobs = Job.__table__
    live.conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == key, jobs.c.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.QUEUED,
            started_at=None,
            queued_at=utcnow(),
            updated_at=utcnow(),
            attempts=sa.func.greatest(sa.func.coalesce(jobs.c.attempts, 1) - 1, 0),
            platform_job_id=None,
        )
    )
    log.warning("job handed back to the queue", job_id=str(key))


def _store_retrying(key: uuid.UUID, live: _Liveness, outcome, error, wall) -> JobStatus | None:
    """Write the result; while PostgreSQL is unreachable keep it in memory and retry with
    backoff (``RESULT_WRITE_RETRY_SECONDS``). Meanwhile a marker in Redis tells the
    reconciler the job is not orphaned (its lock went with the server); the lock is taken
    again on a fresh connection before each retry."""
    from portal.core.heartbeats import beat, stored, storing
    from portal.core.queue import redis_connection

    deadline = time.monotonic() + current_app.config["RESULT_WRITE_RETRY_SECONDS"]
    backoff, retried = 0.5, False
    while True:
        try:
            status = _store(key, outcome, error, wall)
            if retried:
                stored(redis_connection(), key)
                log.warning("result stored after retrying", job_id=str(key))
            return status
        except Exception as exc:
            with contextlib.suppress(Exception):
                uow.rollback()
            if not _db_unreachable(exc) or time.monotonic() > deadline:
                raise
            log.warning("result not stored; retrying", job_id=str(key), error=str(exc)[:200])
        retried = True
        while True:
            storing(redis_connection(), key)
            beat(redis_connection(), _worker_identity())
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            try:
                live.relock()
                break
            except Exception as exc:
                if not _db_unreachable(exc) or time.monotonic() > deadline:
                    raise


def _store(key: uuid.UUID, outcome, error, wall) -> JobStatus | None:
    # One read: the job under its row lock, with its device, result slot and owner (the
    # notification reads the owner), so nothing below lazy-loads.
    job = db.session.execute(
        sa.select(Job)
        .where(Job.id == key)
        .options(joinedload(Job.hardware), joinedload(Job.result), joinedload(Job.user))
        .with_for_update(of=Job)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if job is None or job.status is not JobStatus.RUNNING:
        # Cancelled or failed by the reconciler meanwhile: that decision stands.
        status = job.status if job else None
        uow.rollback()
        log.info("result discarded", job_id=str(key), status=getattr(status, "value", None))
        return status
    if outcome is not None and job.hardware is None:
        outcome, error = None, "The device was removed while the job ran."
    if outcome is None:
        _fail(job, error or "The job failed.")
    else:
        _complete(job, job.hardware, outcome, wall)
    status = job.status
    uow.commit()
    log.info("job finished", job_id=str(key), status=status.value, seconds=round(wall, 4))
    return status


def _complete(job: Job, hardware: Hardware, outcome, wall: float) -> None:
    from portal.analytics.usage import record_usage
    from portal.notifications.models import NotificationType
    from portal.notifications.services import notify

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
    _finish(job, JobStatus.COMPLETED)
    from portal.billing.services import run_fee  # a plan's runs carry no device fee

    job.actual_cost = run_fee(
        actual_cost(hardware, job.shots, outcome.execution_seconds), job.subscription_id
    )
    app_id = _app_id_of(job)
    notify(  # flushes the job and its result too
        job.user_id,
        "Job completed",
        f"{job.name} finished on {hardware.name} ({job.shots} shots).",
        type=NotificationType.JOB,
        link=f"/jobs/{job.id}",
    )
    # Last before the commit: the usage counter is one row per user and day, locked until
    # the commit, so every other write is done before it and two workers finishing the same
    # user's jobs wait on each other for as short as possible.
    record_usage(
        job.user_id,
        "jobs" if app_id is None else "apps.run",
        quantum_app_id=app_id,
        compute_seconds=outcome.execution_seconds,
    )


def _app_id_of(job: Job) -> uuid.UUID | None:
    if job.app_version_id is None:
        return None
    from portal.apps.models import AppVersion

    version = db.session.get(AppVersion, job.app_version_id)
    return getattr(version, "quantum_app_id", None) or getattr(version, "app_id", None)


def _fail(job: Job, reason: str) -> None:
    from portal.notifications.models import NotificationType
    from portal.notifications.services import notify

    _finish(job, JobStatus.FAILED, reason)
    if job.result is None:
        job.result = JobResult(status="FAILED", error=reason)
    notify(
        job.user_id,
        "Job failed",
        f"{job.name or 'Your job'} failed: {reason}",
        type=NotificationType.JOB,
        link=f"/jobs/{job.id}",
    )


# -- the reconciler --------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    requeued: int = 0
    failed_lost: int = 0
    failed_dead: int = 0
    failed_timeout: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _waiting_ids() -> set[bytes]:
    """RQ job ids waiting in the queue (one LRANGE per reconciler pass)."""
    from portal.core.queue import job_queue

    queue = job_queue()
    return set(queue.connection.lrange(queue.key, 0, -1))


def _in_redis(job_id: uuid.UUID, waiting: set[bytes] | None = None) -> bool:
    """Whether the queue still holds the job: started/scheduled/deferred, or "queued" and
    really waiting in the list. A "queued" job that is not in the list was popped by a worker
    that died before claiming it (the lean worker path never marks it started)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    from portal.core.queue import redis_connection

    try:
        rq_job = RQJob.fetch(rq_job_id(job_id), connection=redis_connection())
    except NoSuchJobError:
        return False
    status = rq_job.get_status(refresh=False)
    status = str(getattr(status, "value", status))
    if status == "queued":
        waiting = _waiting_ids() if waiting is None else waiting
        return rq_job_id(job_id).encode() in waiting
    return status in {"started", "scheduled", "deferred"}


def _worker_alive(job: Job) -> bool:
    """Whether the process running ``job`` still holds its advisory lock."""
    key = _lock_key(job.id)
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
    from portal.core.heartbeats import is_storing
    from portal.core.queue import redis_connection

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
    waiting = _waiting_ids() if queued else None
    for job_id, seen_queued_at in queued:
        if _in_redis(job_id, waiting):
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
            _fail(job, f"The queue lost this job {MAX_ATTEMPTS} times; please resubmit it.")
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
            _fail(job, f"The job ran longer than the {timeout} s limit and was stopped.")
            report.failed_timeout += 1
        else:
            _fail(
                job,
                f"The worker running this job ({job.platform_job_id or 'unknown'}) stopped "
                "before it finished. Please resubmit the job.",
            )
            report.failed_dead += 1
        uow.commit()
        log.warning("running job failed by reconciler", job_id=str(job_id), timed_out=timed_out)
    return report
