"""Native Qiskit primitives on Quantum Hub: ``SamplerV2`` and ``EstimatorV2``.

Each ``run(pubs)`` sends **all PUBs of the call as one primitive job** (``POST /jobs`` with
``"primitive": "sampler" | "estimator"``): a parameter sweep is one job and one simulator run
per PUB on the portal, not one job per binding. Results come back as Qiskit's own
containers: a ``PrimitiveResult`` of ``SamplerPubResult`` (a ``DataBin`` with one ``BitArray``
per classical register, in the PUB's shape) or of ``PubResult`` (``evs``, ``stds``,
``ensemble_standard_error``).

    from quantum_hub_client import QuantumHubProvider, SamplerV2
    sampler = SamplerV2(QuantumHubProvider(url, api_key=key).backend("aer-simulator"))
    result = sampler.run([(circuit, thetas)], shots=1000).result()
    result[0].data.meas.get_counts()
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.primitives import (
    BaseEstimatorV2,
    BasePrimitiveJob,
    BaseSamplerV2,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers import JobStatus

from quantum_hub_client.backend import qasm3_source as _program
from quantum_hub_client.job import QuantumHubJob

if TYPE_CHECKING:  # pragma: no cover
    from quantum_hub_client.backend import QuantumHubBackend

DEFAULT_PRECISION = 0.015625


def _values(pub) -> list | None:
    """A pub's BindingsArray as an array whose last axis has one value per parameter."""
    params = list(pub.circuit.parameters)
    if not params:
        return None
    return np.asarray(pub.parameter_values.as_array(params), dtype=float).tolist()


def _bitarray(samples: Any, num_bits: int, shape: tuple[int, ...]) -> BitArray:
    """Hex samples nested in ``shape`` (+ shots) as a ``BitArray``."""
    flat = np.asarray(samples, dtype=object).reshape(-1)
    nbytes = max(1, (num_bits + 7) // 8)
    raw = b"".join(int(str(h), 16).to_bytes(nbytes, "big") for h in flat)
    shots = flat.size // max(1, int(np.prod(shape)))
    array = np.frombuffer(raw, dtype=np.uint8).reshape(*shape, shots, nbytes)
    return BitArray(array, num_bits)


class QuantumHubPrimitiveJob(BasePrimitiveJob):
    """One primitive job of the portal (all PUBs of a ``run()``); ``result(timeout=)``
    polls with backoff and builds Qiskit's result containers."""

    def __init__(self, backend: QuantumHubBackend, job_id: str, kind: str, pubs: list):
        super().__init__(job_id)
        self.portal = QuantumHubJob(backend, [job_id])
        self._kind = kind
        self._pubs = pubs
        self._result: PrimitiveResult | None = None

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        if self._result is None:
            self.portal.result(timeout=timeout)  # raises on failure or cancellation
            document = self.portal._session.get(f"/jobs/{self._job_id}/result")
            self._result = self._build(document)
        return self._result

    def _build(self, document: dict[str, Any]) -> PrimitiveResult:
        results = []
        for pub, item in zip(self._pubs, document.get("results") or [], strict=True):
            data, meta = item.get("data") or {}, dict(item.get("metadata") or {})
            meta["circuit_metadata"] = dict(pub.circuit.metadata or {})
            shape = tuple(pub.shape)
            if self._kind == "sampler":
                arrays = {
                    name: _bitarray(reg["samples"], int(reg["num_bits"]), shape)
                    for name, reg in data.items()
                }
                results.append(SamplerPubResult(DataBin(**arrays, shape=shape), metadata=meta))
            else:
                fields = {
                    key: np.asarray(data[key], dtype=float)
                    for key in ("evs", "stds", "ensemble_standard_error")
                }
                results.append(
                    PubResult(DataBin(**fields, shape=fields["evs"].shape), metadata=meta)
                )
        return PrimitiveResult(
            results,
            metadata={
                "version": 2,
                "job_id": self._job_id,
                "seed_simulator": document.get("seed_simulator"),
                "noise_model_version": document.get("noise_model_version"),
            },
        )

    def status(self) -> JobStatus:
        return self.portal.status()

    def done(self) -> bool:
        return self.status() == JobStatus.DONE

    def running(self) -> bool:
        return self.status() == JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR)

    def cancel(self) -> bool:
        return self.portal.cancel()

    def cost(self):
        return self.portal.cost()

    def queue_position(self) -> int | None:
        return self.portal.queue_position()


def _submit(backend, body: dict[str, Any]) -> str:
    return backend.hub.session.post("/jobs", body)["id"]


class SamplerV2(BaseSamplerV2):
    """Qiskit's ``BaseSamplerV2`` on a Quantum Hub device: one primitive job a ``run()``,
    per-shot samples (``BitArray``) per classical register, as Qiskit's own samplers give.

    ``default_shots`` applies to PUBs without shots; ``seed`` is the portal's
    ``seed_simulator`` (the same seed gives the same samples); ``tags`` label the job."""

    def __init__(
        self,
        backend: QuantumHubBackend,
        *,
        default_shots: int = 1024,
        seed: int | None = None,
        tags: list[str] | None = None,
    ):
        self._backend = backend
        self.default_shots = default_shots
        self.seed = seed
        self.tags = tags

    @property
    def backend(self) -> QuantumHubBackend:
        return self._backend

    def run(self, pubs: Iterable, *, shots: int | None = None) -> QuantumHubPrimitiveJob:
        coerced = [SamplerPub.coerce(pub, shots or self.default_shots) for pub in pubs]
        wire = []
        for pub in coerced:
            source, _ = _program(pub.circuit)
            wire.append([source, _values(pub), int(pub.shots)])
        body: dict[str, Any] = {
            "device": self._backend.name,
            "primitive": "sampler",
            "pubs": wire,
            "memory": True,
        }
        if self.seed is not None:
            body["seed_simulator"] = int(self.seed)
        if self.tags:
            body["tags"] = list(self.tags)
        job_id = _submit(self._backend, body)
        return QuantumHubPrimitiveJob(self._backend, job_id, "sampler", coerced)


class EstimatorV2(BaseEstimatorV2):
    """Qiskit's ``BaseEstimatorV2`` on a Quantum Hub device: one primitive job a ``run()``.
    Noiseless simulators return exact expectation values (``stds`` 0); device-like entries
    estimate them from ``ceil(1/precision^2)`` shots a measurement group."""

    def __init__(
        self,
        backend: QuantumHubBackend,
        *,
        default_precision: float = DEFAULT_PRECISION,
        seed: int | None = None,
        tags: list[str] | None = None,
    ):
        self._backend = backend
        self.default_precision = default_precision
        self.seed = seed
        self.tags = tags

    @property
    def backend(self) -> QuantumHubBackend:
        return self._backend

    def run(self, pubs: Iterable, *, precision: float | None = None) -> QuantumHubPrimitiveJob:
        precision = self.default_precision if precision is None else precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        wire = []
        for pub in coerced:
            source, _ = _program(pub.circuit)
            observables = pub.observables.tolist()
            wire.append([source, observables, _values(pub), float(pub.precision)])
        body: dict[str, Any] = {
            "device": self._backend.name,
            "primitive": "estimator",
            "pubs": wire,
        }
        if self.seed is not None:
            body["seed_simulator"] = int(self.seed)
        if self.tags:
            body["tags"] = list(self.tags)
        return QuantumHubPrimitiveJob(
            self._backend, _submit(self._backend, body), "estimator", coerced
        )
