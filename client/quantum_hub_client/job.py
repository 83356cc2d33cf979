"""Portal jobs as a Qiskit ``JobV1``."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from quantum_hub_client.exceptions import (
    ConflictError,
    JobCancelledError,
    JobFailedError,
    JobTimeout,
)

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit

    from quantum_hub_client.backend import QuantumHubBackend

STATUS = {
    "PROVISIONING": JobStatus.INITIALIZING,
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
    "CANCELLED": JobStatus.CANCELLED,
}
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def _bits(key: str) -> str:
    """A counts key of the portal ("01 1": registers last-first, as Aer writes) as one
    bitstring, clbit 0 rightmost."""
    return key.replace(" ", "")


def _hex(key: str) -> str:
    return hex(int(_bits(key) or "0", 2))


def reconstruct_memory(counts: dict[str, int], rng: random.Random) -> list[str]:
    """One hex outcome per shot from ``counts``. The multiset is exact; the ORDER IS NOT the
    device's (the portal keeps no per-shot record): a random permutation of the outcomes."""
    memory = [_hex(key) for key, n in sorted(counts.items()) for _ in range(int(n))]
    rng.shuffle(memory)
    return memory


class QuantumHubJob(JobV1):
    """One ``backend.run()``: one portal job per circuit (the API takes one program a job).

    ``job_id()`` is the portal job id for a single circuit, or the ids joined by commas for
    several; ``provider.job(job_id)`` takes either back. ``result(timeout=)`` polls with
    backoff; ``cancel()``, ``queue_position()`` and ``cost()`` ask the portal.

    With ``memory=True`` the per-shot memory is the portal's (one hex outcome a shot). A job
    run without it (e.g. fetched by id) has its memory rebuilt from the counts if asked for:
    exact outcomes and frequencies, **order not preserved**
    (``metadata["memory_reconstructed"]`` says so).
    """

    def __init__(
        self,
        backend: QuantumHubBackend,
        job_ids: list[str],
        *,
        circuits: list[QuantumCircuit | None] | None = None,
        shots: int | None = None,
        memory: bool = False,
        seed: int | None = None,
    ):
        super().__init__(backend, ",".join(str(i) for i in job_ids))
        self.portal_ids = [str(i) for i in job_ids]
        self._circuits = circuits
        self._shots = shots
        self._memory = memory
        self._seed = seed
        self._docs: dict[str, dict[str, Any]] = {}
        self._result: Result | None = None

    @property
    def _session(self):
        return self._backend.provider.session

    def submit(self):
        raise NotImplementedError("QuantumHubJob is submitted by backend.run()")

    # -- the portal's view ---------------------------------------------------------------

    def refresh(self) -> list[dict[str, Any]]:
        """The portal's job documents, re-read unless already finished."""
        for job_id in self.portal_ids:
            doc = self._docs.get(job_id)
            if doc is None or doc["status"] not in TERMINAL:
                self._docs[job_id] = self._session.get(f"/jobs/{job_id}")
        return [self._docs[i] for i in self.portal_ids]

    def _advance(self) -> bool:
        """Re-read the run's jobs in order, stopping at the first one still unfinished (the
        queue runs them roughly in order, so a poll of N circuits costs one request, not N).
        True once every job finished."""
        for job_id in self.portal_ids:
            doc = self._docs.get(job_id)
            if doc is not None and doc["status"] in TERMINAL:
                continue
            doc = self._docs[job_id] = self._session.get(f"/jobs/{job_id}")
            if doc["status"] not in TERMINAL:
                return False
        return True

    def portal_statuses(self) -> list[str]:
        return [doc["status"] for doc in self.refresh()]

    def status(self) -> JobStatus:
        states = {STATUS[s] for s in self.portal_statuses()}
        for state in (JobStatus.ERROR, JobStatus.CANCELLED):
            if state in states:
                return state
        if states == {JobStatus.DONE}:
            return JobStatus.DONE
        if JobStatus.RUNNING in states or JobStatus.DONE in states:
            return JobStatus.RUNNING
        if JobStatus.INITIALIZING in states:
            return JobStatus.INITIALIZING
        return JobStatus.QUEUED

    def queue_position(self) -> int | None:
        """The portal's queue position (1 = next to run) of the first of the run's jobs still
        queued, or None when none is queued."""
        positions = [
            doc.get("queue_position")
            for doc in self.refresh()
            if doc["status"] == "QUEUED" and doc.get("queue_position") is not None
        ]
        return min(positions) if positions else None

    def cost(self) -> Decimal:
        """What the run costs: the charged total once every job has an actual cost, else the
        estimated total (a cancelled job costs nothing)."""
        docs = self.refresh()
        if all(d.get("actual_cost") is not None or d["status"] == "CANCELLED" for d in docs):
            return sum(
                (Decimal(d["actual_cost"]) for d in docs if d.get("actual_cost") is not None),
                Decimal(0),
            )
        return sum((Decimal(d["estimated_cost"]) for d in docs), Decimal(0))

    @property
    def tags(self) -> list[str]:
        return list(self.refresh()[0].get("tags") or [])

    def cancel(self) -> bool:
        """Cancel every job of the run that has not finished; True if any was cancelled."""
        cancelled = False
        for job_id in self.portal_ids:
            doc = self._docs.get(job_id) or self._session.get(f"/jobs/{job_id}")
            if doc["status"] in TERMINAL:
                self._docs[job_id] = doc
                continue
            try:
                self._docs[job_id] = self._session.delete(f"/jobs/{job_id}")
            except ConflictError:  # it finished meanwhile
                self._docs[job_id] = self._session.get(f"/jobs/{job_id}")
            cancelled |= self._docs[job_id]["status"] == "CANCELLED"
        return cancelled

    # -- results -------------------------------------------------------------------------

    def wait(
        self, timeout: float | None = None, poll_interval: float = 0.2, max_interval: float = 5.0
    ) -> list[dict[str, Any]]:
        """Poll (backoff x1.5 from ``poll_interval`` up to ``max_interval`` seconds) until
        every job finished; ``JobTimeout`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        while True:
            if self._advance():
                return [self._docs[i] for i in self.portal_ids]
            if deadline is not None and time.monotonic() >= deadline:
                waiting = [
                    i
                    for i in self.portal_ids
                    if (self._docs.get(i) or {}).get("status") not in TERMINAL
                ]
                raise JobTimeout(
                    f"{len(waiting)} job(s) not finished after {timeout} s: {waiting}",
                    code="timeout",
                    details={"waiting": waiting},
                )
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            time.sleep(max(pause, 0.0))
            interval = min(interval * 1.5, max_interval)

    def result(
        self, timeout: float | None = None, poll_interval: float = 0.2, max_interval: float = 5.0
    ) -> Result:
        """A ``qiskit.result.Result`` once every job completed: counts (and memory if asked
        for) per circuit, with ``creg_sizes``/``memory_slots`` headers so ``get_counts()``
        splits registers as Qiskit does. A failed job raises ``JobFailedError`` (its reason),
        a cancelled one ``JobCancelledError``."""
        if self._result is not None:
            return self._result
        docs = self.wait(timeout, poll_interval, max_interval)
        for doc in docs:
            if doc["status"] == "FAILED":
                raise JobFailedError(
                    f"Job {doc['id']} failed: {doc.get('failure_reason') or 'no reason given'}",
                    code="job_failed",
                    details={"job_id": doc["id"], "failure_reason": doc.get("failure_reason")},
                )
            if doc["status"] == "CANCELLED":
                raise JobCancelledError(
                    f"Job {doc['id']} was cancelled; it has no result.",
                    code="job_cancelled",
                    details={"job_id": doc["id"]},
                )
        experiments = []
        for index, doc in enumerate(docs):
            document = self._session.get(f"/jobs/{doc['id']}/result")
            circuit = self._circuits[index] if self._circuits else None
            experiments.append(self._experiment(doc, document, circuit))
        self._result = Result(
            backend_name=self._backend.name,
            backend_version=self._backend.backend_version,
            job_id=self.job_id(),
            success=True,
            results=experiments,
            status="COMPLETED",
        )
        return self._result

    def _experiment(self, doc, document, circuit) -> ExperimentResult:
        counts = {str(k): int(v) for k, v in (document.get("counts") or {}).items()}
        header = self._header(counts, circuit, doc)
        data: dict[str, Any] = {"counts": {}}
        for key, n in counts.items():
            data["counts"][_hex(key)] = data["counts"].get(_hex(key), 0) + n
        metadata = dict(document.get("metadata") or {})
        metadata["portal_job_id"] = doc["id"]
        if document.get("memory"):  # the portal's per-shot memory, in the simulator's order
            data["memory"] = [str(h) for h in document["memory"]]
        elif self._memory:  # a job run without memory: rebuilt from the counts
            seed = self._seed if self._seed is not None else doc["id"]
            data["memory"] = reconstruct_memory(counts, random.Random(f"{seed}:{doc['id']}"))
            metadata["memory_reconstructed"] = True
            metadata["memory_order"] = "not preserved (reconstructed from counts)"
        for key in ("seed_simulator", "noise_model_version"):
            if document.get(key) is not None:
                metadata[key] = document[key]
        return ExperimentResult(
            shots=int(document.get("shots") or doc.get("shots") or self._shots or 0),
            success=True,
            data=ExperimentResultData(**data),
            header=header,
            status="DONE",
            time_taken=document.get("execution_time"),
            metadata=metadata,
        )

    @staticmethod
    def _header(counts: dict[str, int], circuit, doc) -> dict[str, Any]:
        if circuit is not None and circuit.num_clbits:
            return {
                "name": circuit.name,
                "creg_sizes": [[reg.name, reg.size] for reg in circuit.cregs],
                "memory_slots": circuit.num_clbits,
                "metadata": dict(circuit.metadata or {}),
            }
        # No circuit at hand (a job fetched by id) or one the portal measured whole: the
        # register sizes come from the keys ("01 1" = c1 of 2 bits, c0 of 1 bit).
        key = next(iter(counts), "")
        sizes = [len(part) for part in reversed(key.split(" "))] if key else []
        if circuit is not None:  # no classical bits: the portal measured every qubit
            names = ["meas"] if len(sizes) == 1 else [f"c{i}" for i in range(len(sizes))]
        else:
            names = [f"c{i}" for i in range(len(sizes))]
        return {
            "name": circuit.name if circuit is not None else doc.get("name", ""),
            "creg_sizes": [[n, s] for n, s in zip(names, sizes, strict=True)],
            "memory_slots": sum(sizes),
            "metadata": dict(circuit.metadata or {}) if circuit is not None else {},
        }
