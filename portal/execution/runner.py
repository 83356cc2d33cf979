"""The worker body: run one claimed job to a terminal state (``run_job``, what
``workers.jobs.run`` calls) -- claim it, simulate it, write its outcome (retrying through a
database outage), or hand it back to the queue when the worker is stopping.

Liveness of RUNNING jobs: the worker holds a session-level advisory lock keyed by the job id
on a dedicated autocommit connection while it runs the job (``_Liveness``). If the worker
dies (even by SIGKILL) PostgreSQL drops the connection and the lock, so the reconciler can
take it and knows the job is orphaned. A heartbeat thread would not do: Aer holds the GIL
while it simulates.

Round trips per job (the worker's hot path): two, both on the autocommit lock connection.
The claim (``_claim``) moves the job to RUNNING, takes its lock, releases the previous job's
and returns all that the run and the finish need (the job's columns, its device's figures and
prices, its owner's e-mail settings); the finish (``lifecycle.complete``) is one statement
that writes the job, its result, the notification, the usage and a webhook's first delivery
only if the job is still RUNNING on its device. There were eleven, then six (a failure's
finish still goes through the ORM).
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from flask import current_app
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.apps.models import AppVersion
from portal.core import uow
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.heartbeats import beat, stored, storing
from portal.core.queue import redis_connection
from portal.execution import backends
from portal.execution.lifecycle import Device, Owner, RunningJob, complete, fail
from portal.execution.models import Hardware, Job, JobStatus
from portal.execution.primitives import run_claimed

log = structlog.get_logger("portal.execution")


def lock_key(job_id: uuid.UUID) -> int:
    """The advisory lock key of a job (its id's first 8 bytes)."""
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

    The connection is in autocommit mode and the lock rides on the claim (``claim``): one
    round trip takes both. A worker (``keep=True``) keeps the connection between jobs, which
    saves a pool checkout and its pre-ping per job, and keeps a finished job's lock until
    its next claim releases it in the same statement (a lock on a job that is no longer
    RUNNING means nothing to the reconciler, which only asks about RUNNING jobs). On any
    error the connection is closed for good, which releases its locks, and the next job
    starts on a fresh one; a job handed back or left RUNNING by an error is unlocked at
    once."""

    def __init__(self, job_id: uuid.UUID, keep: bool = False):
        self.key = lock_key(job_id)
        self.keep = keep
        self.conn = None
        self.locked = False

    def _connection(self):
        conn = getattr(_kept, "conn", None) if self.keep else None
        if conn is None or conn.closed or conn.invalidated or conn.engine is not db.engine:
            conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.keep:
                _kept.conn, _kept.held = conn, None  # a new session holds no lock
        return conn

    def _held(self) -> int | None:
        """The lock of this worker's previous job, still held on the kept connection."""
        return getattr(_kept, "held", None) if self.keep else None

    def _drop(self) -> None:
        """Close the connection itself, not back into the pool, so its locks go with it."""
        if self.keep:
            _kept.conn = _kept.held = None
        with contextlib.suppress(Exception):
            self.conn.invalidate()
        self.conn.close()

    def __enter__(self):
        self.conn = self._connection()
        return self

    def claim(self, key: uuid.UUID) -> _Claimed | None:
        """The job QUEUED → RUNNING with its lock taken, and the previous job's released
        (``_claim``); None, and no lock taken, when the job is no longer QUEUED."""
        try:
            claimed = _claim(key, self.conn, self.key, self._held())
        except Exception:
            self._drop()
            raise
        if claimed is not None:
            self.locked = True
            if self.keep:
                _kept.held = None
        return claimed

    def relock(self) -> None:
        """After the server went away (and the lock with its connection): a fresh connection
        and the lock again, before anything else is written."""
        with contextlib.suppress(Exception):
            self._drop()
        self.conn = self._connection()
        try:
            self.conn.execute(_lock_statement(), {"key": self.key})
        except Exception:
            self._drop()
            raise
        self.locked = True

    def __exit__(self, exc_type, *exc):
        if self.keep and exc_type is None:
            if self.locked:  # released by the next claim, in the same round trip
                _kept.held = self.key
            return
        held = self._held()
        try:
            if self.locked or held is not None:
                key = self.key if self.locked else None
                self.conn.execute(_unlock_statement(), {"key": key, "held": held})
            if self.keep:
                _kept.held = None
        except Exception:
            self._drop()
            raise
        if not self.keep:
            self.conn.close()


@functools.cache
def _lock_statement():
    return sa.select(sa.func.pg_advisory_lock(sa.bindparam("key", type_=sa.BigInteger)))


@functools.cache
def _unlock_statement():
    return sa.select(
        sa.func.pg_advisory_unlock(sa.bindparam("key", type_=sa.BigInteger)),  # NULL: none
        sa.func.pg_advisory_unlock(sa.bindparam("held", type_=sa.BigInteger)),
    )


_IDENTITY: str | None = None


def worker_identity() -> str:
    """host:pid of this process, stamped on the jobs it claims."""
    global _IDENTITY
    if _IDENTITY is None or not _IDENTITY.endswith(f":{os.getpid()}"):
        _IDENTITY = f"{socket.gethostname()}:{os.getpid()}"[:100]
    return _IDENTITY


@dataclass
class _Claimed:
    """What the claim returned: the run's inputs, and the finish's ``job``."""

    source: str
    fmt: str | None
    inputs: dict[str, Any] | None
    shots: int
    hardware_name: str | None
    backend_config: dict[str, Any] | None
    primitive: str | None  # primitive jobs, memory and seeds (primitives.py)
    pubs: list[Any] | None
    memory: bool
    seed_simulator: int | None
    job: RunningJob | None  # None: the device no longer exists (the job fails)


def _still(status: JobStatus):
    """The job row's status check in a statement that reaches the row by its id: ``IS TRUE``
    keeps it a filter, never an index condition. Given ``status = ..`` the planner rated the
    status indexes as cheap as the primary key on a table without statistics (a new or
    truncated one) and took them, reading an entry for every past QUEUED or RUNNING row until
    vacuum: each claim and finish slowed as jobs ran (``test_worker_plans.py``)."""
    return (Job.__table__.c.status == status).is_(True)


# Every job's claim: built once, so its compiled form and cache key are reused.
@functools.cache
def _claim_statement():
    jobs, hardware, users = Job.__table__, Hardware.__table__, User.__table__
    versions = AppVersion.__table__

    def of_hardware(column):
        return sa.select(column).where(hardware.c.id == jobs.c.hardware_id).scalar_subquery()

    now = sa.bindparam("now", type_=Job.started_at.type)
    return (
        sa.update(jobs)
        .where(
            jobs.c.id == sa.bindparam("job_id"),
            _still(JobStatus.QUEUED),
            users.c.id == jobs.c.user_id,  # UPDATE .. FROM users: the owner, for the finish
        )
        .values(
            status=JobStatus.RUNNING,
            started_at=now,
            updated_at=now,
            attempts=sa.func.coalesce(jobs.c.attempts, 0) + 1,
            platform_job_id=sa.bindparam("worker"),
        )
        .returning(
            # The run (``_Claimed``).
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
            # The finish (``lifecycle.RunningJob``): it reads nothing more.
            jobs.c.user_id,
            jobs.c.name,
            jobs.c.webhook_url,
            jobs.c.queued_at,
            jobs.c.scaling_config,
            jobs.c.subscription_id,
            sa.select(versions.c.quantum_app_id)
            .where(versions.c.id == jobs.c.app_version_id)
            .scalar_subquery(),
            of_hardware(hardware.c.cost_per_job),
            of_hardware(hardware.c.cost_per_shot),
            of_hardware(hardware.c.cost_per_hour),
            users.c.username,
            users.c.email,
            users.c.full_name,
            users.c.is_active,
            users.c.email_verified_at,
            users.c.preferences,
            # Evaluated for the claimed row only, before the statement commits: RUNNING
            # is never visible without the lock held. A NULL ``held`` releases nothing.
            sa.func.pg_advisory_lock(sa.bindparam("key", type_=sa.BigInteger)),
            sa.func.pg_advisory_unlock(sa.bindparam("held", type_=sa.BigInteger)),
            # This statement's own commit does not wait for its WAL flush (about 1.2 ms here):
            # a claim lost in a server crash leaves the job QUEUED, its lock gone with the
            # connection, so the finish writes nothing and the reconciler enqueues it again;
            # the finish's durable commit flushes the claim's record first (WAL is ordered).
            sa.func.set_config("synchronous_commit", "off", True),
        )
    )


def _claim(job_id: uuid.UUID, conn, key: int, held: int | None) -> _Claimed | None:
    """QUEUED → RUNNING in one atomic UPDATE on the autocommit lock connection (RUNNING is
    visible at once), which also takes the job's lock ``key`` and releases ``held`` (the
    previous job's), returning what the run and the finish need; None, with neither lock
    touched, when the job is no longer QUEUED (cancelled, or another worker took it)."""
    now = utcnow()
    params = {"job_id": job_id, "now": now, "worker": worker_identity(), "key": key}
    row = conn.execute(_claim_statement(), {**params, "held": held}).first()
    if row is None:
        return None
    (source, fmt, inputs, shots, device_name, config, primitive, pubs, memory, seed,
     user_id, name, webhook_url, queued_at, scaling, subscription_id, app_id,
     per_job, per_shot, per_hour, *owner) = row[:-3]  # fmt: skip
    job = None
    if device_name is not None:
        job = RunningJob(
            job_id, user_id, name, shots, webhook_url, now, queued_at, scaling,
            subscription_id, app_id, Device(device_name, config, per_job, per_shot, per_hour),
            Owner(user_id, *owner),
        )  # fmt: skip
    return _Claimed(
        source or "", fmt, inputs, shots, device_name, config, primitive, pubs, bool(memory),
        seed, job,
    )  # fmt: skip


def run_job(job_id: str | uuid.UUID, *, worker: bool = False) -> JobStatus | None:
    """Run one job to a terminal state (the worker body, ``workers.jobs.run``).

    The job is claimed on the autocommit lock connection, so it must be committed first.
    ``worker=True`` (a worker process) keeps that connection for the next job; other
    callers (tests, one-off runs) close it.

    Commits its own transactions: RUNNING must be visible while the job runs. A job that
    is no longer QUEUED (cancelled, or already taken) is skipped. If the job was cancelled
    or failed by the reconciler while it ran, the result is discarded.

    Round trips are counted here (it is the worker's hot path): the claim with the lock and
    all the finish reads, then one statement writing the job, its result, the notification,
    the usage and a webhook's first delivery
    (``tests/integration/execution/test_worker_round_trips.py`` asserts them).
    """
    key = uuid.UUID(str(job_id))
    with _Liveness(key, keep=worker) as live:
        claimed = live.claim(key)
        if claimed is None:
            status = live.conn.execute(
                sa.select(Job.status).where(Job.id == key)
            ).scalar_one_or_none()
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
        return _store_retrying(key, live, claimed.job, outcome, error, wall)


def _hand_back(key: uuid.UUID, live: _Liveness) -> None:
    """RUNNING → QUEUED for a worker that is stopping; the claim's attempt is given back."""
    jobs = Job.__table__
    live.conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == key, _still(JobStatus.RUNNING))
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


def _store_retrying(
    key: uuid.UUID, live: _Liveness, job: RunningJob | None, outcome, error, wall
) -> JobStatus | None:
    """Write the result; while PostgreSQL is unreachable keep it in memory and retry with
    backoff (``RESULT_WRITE_RETRY_SECONDS``). Meanwhile a marker in Redis tells the
    reconciler the job is not orphaned (its lock went with the server); the lock is taken
    again on a fresh connection before each retry."""
    deadline = time.monotonic() + current_app.config["RESULT_WRITE_RETRY_SECONDS"]
    backoff, retried = 0.5, False
    while True:
        try:
            status = _store(key, live, job, outcome, error, wall)
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
            beat(redis_connection(), worker_identity())
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            try:
                live.relock()
                break
            except Exception as exc:
                if not _db_unreachable(exc) or time.monotonic() > deadline:
                    raise


# A failure's finish reads the job with this: built once, so it is not rebuilt.
@functools.cache
def _store_statement():
    # The job under its row lock, with its result slot and owner (the notification reads
    # the owner), so nothing below lazy-loads or reads again.
    return (
        sa.select(Job)
        .where(Job.id == sa.bindparam("job_id"))
        .options(joinedload(Job.result), joinedload(Job.user))
        .with_for_update(of=Job)
        .execution_options(populate_existing=True)
    )


def _store(key: uuid.UUID, live: _Liveness, job, outcome, error, wall) -> JobStatus | None:
    if outcome is not None:  # the usual case: one statement on the lock connection
        if complete(job, outcome, wall, live.conn):
            return _stored(key, JobStatus.COMPLETED, wall)
        # Not RUNNING on its device any more (rare): read why.
        status = live.conn.execute(_status_statement(), {"job_id": key}).scalar_one_or_none()
        if status is not JobStatus.RUNNING:
            return _discard(key, status)
        error = "The device was removed while the job ran."
    job = db.session.execute(_store_statement(), {"job_id": key}).scalar_one_or_none()
    if job is None or job.status is not JobStatus.RUNNING:
        return _discard(key, job.status if job else None)
    fail(job, error or "The job failed.")
    return _stored(key, job.status, wall)


@functools.cache
def _status_statement():
    return sa.select(Job.status).where(Job.id == sa.bindparam("job_id"))


def _discard(key: uuid.UUID, status: JobStatus | None) -> JobStatus | None:
    """Cancelled or failed by the reconciler meanwhile: that decision stands."""
    uow.rollback()
    log.info("result discarded", job_id=str(key), status=getattr(status, "value", None))
    return status


def _stored(key: uuid.UUID, status: JobStatus, wall) -> JobStatus:
    uow.commit()
    log.info("job finished", job_id=str(key), status=status.value, seconds=round(wall, 4))
    return status
