"""Build checks: the build's simulation runs on a worker, never in the web process.

A build (``portal.projects.services.build``) parses every program and checks it statically in
the request (qubits, depth, gates: milliseconds, no state vector). Its ``simulate`` check is a
small RQ job, ``workers.jobs.check``, on the same queue and workers as the quantum jobs:

- **What it is.** An RQ job, not a ``Job`` row: it charges nothing, notifies nobody, belongs to
  no device and needs none of the job lifecycle, and it reads nothing from the database (the
  program travels in the job's arguments), so it is enqueued at once rather than after the
  commit, and a request may wait for it without committing anything.
- **Its key.** The check is identified by a hash of (program, format, inputs, shots, memory
  budget); the RQ job id and the Redis key of its result derive from it. Building the same
  program again reuses the result (kept ``RESULT_TTL`` seconds); a changed program is a new
  check. The IDE's poll rebuilds from the saved files, so it always reports on what is saved.
- **Bounds.** A state vector of n qubits takes 16 x 2^n bytes; a program over the workers'
  budget (``QH_WORKER_MEMORY_MB``) is refused in the request, with the figure, before anything
  is enqueued. On the worker, Aer is given the same budget (``max_memory_mb``) and RQ's timeout
  is ``QH_BUILD_CHECK_TIMEOUT_SECONDS``; either way the check reports why it failed.
- **Never lost, never stuck.** A check whose RQ job vanished, failed (its worker died) or has
  run past its timeout is enqueued again when its status is next read, at most
  ``MAX_ATTEMPTS`` times; then it reports the failure.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.timeouts import JobTimeoutException

from portal.core import queue as redis_queue
from portal.core.errors import ValidationFailed
from portal.core.programs import parse_program
from portal.execution.memory import (  # noqa: F401 - the build check's bound, re-exported
    BYTES_PER_AMPLITUDE,
    max_qubits,
    memory_budget_mb,
    size_text,
    statevector_bytes,
)

log = structlog.get_logger("portal.projects.checks")

CHECK_FUNCTION = "workers.jobs.check"
RESULT_TTL = 24 * 3600
MAX_ATTEMPTS = 3
TIMEOUT_GRACE_SECONDS = 30


def rq_id(key: str) -> str:
    return f"qh-check-{key}"


def _result_key(key: str) -> str:
    return f"qh:build-check:{key}"


def _attempts_key(key: str) -> str:
    return f"qh:build-check:{key}:attempts"


# -- the memory bound (shared with jobs: portal.execution.memory) ----------------------------


def memory_refusal(qubits: int, budget_mb: int) -> str | None:
    """Why a ``qubits``-qubit program cannot be simulated within ``budget_mb``, or None."""
    need = statevector_bytes(qubits)
    if need <= budget_mb * 2**20:
        return None
    return (
        f"A {qubits}-qubit state vector needs {size_text(need)} (16 bytes x 2^{qubits}), more "
        f"than the {size_text(budget_mb * 2**20)} a worker may use for a build check "
        f"(QH_WORKER_MEMORY_MB={budget_mb}, at most {max_qubits(budget_mb)} qubits). Use "
        "fewer qubits, or run the program as a job on a stabilizer device (Clifford circuits) "
        "or a matrix-product-state device instead."
    )


# -- the web side: start, read, wait ---------------------------------------------------------


def check_key(source: str, fmt: str | None, inputs: dict[str, Any] | None, shots: int) -> str:
    payload = json.dumps([source, fmt, inputs or {}, shots, memory_budget_mb()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _redis():
    return redis_queue.redis_connection()


def stored_result(key: str) -> dict[str, Any] | None:
    raw = _redis().get(_result_key(key))
    return json.loads(raw) if raw else None


def _store(key: str, result: dict[str, Any]) -> None:
    _redis().set(_result_key(key), json.dumps(result), ex=RESULT_TTL)


def _timeout() -> int:
    return int(current_app.config["BUILD_CHECK_TIMEOUT_SECONDS"])


def _in_queue(key: str) -> bool:
    """Whether the check's RQ job is waiting or running (and not past its timeout)."""
    try:
        rq_job = RQJob.fetch(rq_id(key), connection=_redis())
    except NoSuchJobError:
        return False
    status = rq_job.get_status(refresh=False)
    status = str(getattr(status, "value", status))
    if status in ("queued", "scheduled", "deferred"):
        return True
    if status == "started":
        started = rq_job.started_at or rq_job.enqueued_at
        if started is None:
            return True
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - started).total_seconds()
        return age <= _timeout() + TIMEOUT_GRACE_SECONDS
    return False  # failed (its worker died), stopped, cancelled, or finished without a result


def _enqueue(key: str, source: str, fmt: str | None, inputs, shots: int) -> None:
    queue = redis_queue.job_queue()
    rq_job = queue.create_job(
        CHECK_FUNCTION,
        args=(key, source, fmt, inputs, shots),
        job_id=rq_id(key),
        timeout=_timeout(),
        result_ttl=0,  # the result lives under _result_key, read by every web process
        failure_ttl=3600,
        description="build check",
    )
    queue.enqueue_job(rq_job)


def start(source: str, fmt: str | None, inputs, shots: int) -> tuple[str, dict[str, Any] | None]:
    """(key, result): the stored result of this check, or None once it is queued (again, if
    its job was lost). Never simulates here."""
    key = check_key(source, fmt, inputs, shots)
    result = stored_result(key)
    if result is not None or _in_queue(key):
        return key, result
    attempts = _redis().incr(_attempts_key(key))
    _redis().expire(_attempts_key(key), RESULT_TTL)
    if attempts > MAX_ATTEMPTS:
        result = {
            "passed": False,
            "message": f"The build check stopped on the worker {MAX_ATTEMPTS} times without "
            f"an answer (e.g. it ran past the {_timeout()} s limit); simplify the program.",
        }
        _store(key, result)
        return key, result
    try:
        _enqueue(key, source, fmt, inputs, shots)
    except Exception as exc:  # Redis down: the next read tries again
        log.warning("build check not enqueued", key=key, error=str(exc))
    return key, None


def wait(key: str, seconds: float) -> dict[str, Any] | None:
    """The check's result, waiting up to ``seconds`` for a worker to store it."""
    deadline = time.monotonic() + seconds
    delay = 0.02
    result = stored_result(key)
    while result is None and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        result = stored_result(key)
    return result


# -- the worker side -------------------------------------------------------------------------


def run_check(key: str, source: str, fmt: str | None, inputs, shots: int) -> dict[str, Any]:
    """The worker body of a build check: simulate the program once on Aer with a few shots,
    within the memory budget and RQ's timeout, and store what happened under ``key``."""
    budget = memory_budget_mb()
    try:
        circuit = parse_program(source, fmt, inputs)
        refusal = memory_refusal(circuit.num_qubits, budget)
        result = (
            {"passed": False, "message": refusal} if refusal else _simulate(circuit, shots, budget)
        )
    except JobTimeoutException:
        result = {
            "passed": False,
            "message": f"The simulation ran longer than the {_timeout()} s limit of a build "
            "check; use fewer qubits or gates.",
        }
    except ValidationFailed as exc:
        result = {"passed": False, "message": exc.message}
    except MemoryError:
        result = {
            "passed": False,
            "message": f"The simulation ran out of memory within the {budget} MiB budget; "
            "use fewer qubits, or a stabilizer or matrix-product-state device.",
        }
    _store(key, result)
    log.info("build check finished", key=key, passed=result["passed"])
    return result


def _simulate(circuit, shots: int, budget_mb: int) -> dict[str, Any]:
    # Deferred: Qiskit is heavy, imported on first use.
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    try:
        backend = AerSimulator(max_memory_mb=budget_mb)
        result = backend.run(transpile(circuit, backend), shots=shots).result()
        counts = result.get_counts() if circuit.num_clbits else {}
    except JobTimeoutException:
        raise
    except Exception as exc:  # Aer reports bad circuits (and the memory bound) as errors
        return {"passed": False, "message": f"Simulation failed: {exc}"}
    message = f"Simulated {shots} shots on Aer."
    if not circuit.num_clbits:
        message += " The program measures nothing, so it returns no counts."
    return {"passed": True, "message": message, "shots": shots, "counts": dict(counts)}
