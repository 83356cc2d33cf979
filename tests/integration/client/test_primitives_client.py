"""The client's native SamplerV2 / EstimatorV2 against a live portal and a real worker over
HTTP: one primitive job per run() (a 100-point sweep included), Qiskit's result containers
(PrimitiveResult, SamplerPubResult with BitArray data), expectation values against exact
Statevector values, seeds, cancel, typed errors, and seeds/memory through backend.run and
Qiskit's BackendSamplerV2."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray
from qiskit.quantum_info import SparsePauliOp, Statevector
from quantum_hub_client import (
    EstimatorV2,
    JobCancelledError,
    RequestValidationError,
    SamplerV2,
)

pytestmark = pytest.mark.timeout(240)
RESULT_TIMEOUT = 120


def bell(measured: bool = True) -> QuantumCircuit:
    qc = QuantumCircuit(2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    if measured:
        qc.measure_all()
    return qc


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return qc


def ansatz() -> QuantumCircuit:
    theta = [Parameter(f"t{i}") for i in range(4)]
    qc = QuantumCircuit(2)
    qc.ry(theta[0], 0)
    qc.ry(theta[1], 1)
    qc.cx(0, 1)
    qc.ry(theta[2], 0)
    qc.rz(theta[3], 1)
    return qc


def test_sampler_v2_bell_ghz_and_a_100_point_sweep_in_one_job(worker_hub):
    backend = worker_hub.backend("aer-simulator")
    before = len(worker_hub.jobs(limit=None))
    sampler = SamplerV2(backend, default_shots=400)
    theta = Parameter("theta")
    rotation = QuantumCircuit(1)
    rotation.rx(theta, 0)
    rotation.measure_all()
    thetas = np.linspace(0, math.pi, 100)
    job = sampler.run([bell(), ghz(3), (rotation, thetas, 200)])
    result = job.result(timeout=RESULT_TIMEOUT)
    assert len(worker_hub.jobs(limit=None)) == before + 1  # all PUBs: one portal job
    assert isinstance(result, PrimitiveResult) and len(result) == 3
    first = result[0]
    assert isinstance(first, SamplerPubResult) and isinstance(first.data.meas, BitArray)
    counts = first.data.meas.get_counts()
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 400
    assert first.data.meas.num_shots == 400 and first.data.meas.num_bits == 2
    assert set(result[1].data.meas.get_counts()) <= {"000", "111"}
    sweep = result[2].data.meas
    assert sweep.shape == (100,) and sweep.num_shots == 200
    ones = [sweep.get_counts(i).get("1", 0) / 200 for i in range(100)]
    assert ones[0] == 0.0 and ones[-1] == 1.0
    assert max(abs(p - math.sin(t / 2) ** 2) for p, t in zip(ones, thetas, strict=True)) < 0.15
    assert result[2].metadata["bindings"] == 100
    assert job.done() and job.in_final_state() and job.cost() > 0


def test_sampler_v2_seeds_registers_and_memory(worker_hub):
    backend = worker_hub.backend("generic-5-noisy")
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.x(2)
    circuit.measure(range(3), range(3))
    runs = [
        SamplerV2(backend, seed=11).run([(circuit, None, 300)]).result(timeout=RESULT_TIMEOUT)
        for _ in range(2)
    ]
    assert np.array_equal(runs[0][0].data.c.array, runs[1][0].data.c.array)  # same samples
    other = SamplerV2(backend, seed=12).run([(circuit, None, 300)]).result(RESULT_TIMEOUT)
    assert not np.array_equal(other[0].data.c.array, runs[0][0].data.c.array)
    assert runs[0].metadata["seed_simulator"] == 11
    assert runs[0].metadata["noise_model_version"].startswith("generic-5-noisy")
    counts = runs[0][0].data.c.get_counts()
    assert sum(counts.values()) == 300 and counts.get("100", 0) + counts.get("111", 0) > 240

    seeded = [
        backend.run(circuit, shots=200, seed_simulator=5, memory=True).result(RESULT_TIMEOUT)
        for _ in range(2)
    ]
    assert seeded[0].get_memory() == seeded[1].get_memory()  # the same shots, in order
    assert seeded[0].results[0].metadata["seed_simulator"] == 5

    sampler = BackendSamplerV2(backend=backend, options={"seed_simulator": 3})
    twice = [sampler.run([circuit], shots=100).result()[0].data.c for _ in range(2)]
    assert np.array_equal(twice[0].array, twice[1].array)


def test_estimator_v2_bell_and_ansatz_against_statevector(worker_hub):
    exact = EstimatorV2(worker_hub.backend("aer-simulator"))
    observables = [
        SparsePauliOp("ZZ"),
        SparsePauliOp("XX"),
        SparsePauliOp.from_list([("ZZ", 1), ("XX", 0.5)]),
    ]
    circuit = ansatz()
    points = np.random.default_rng(1).uniform(-math.pi, math.pi, size=(8, 4))
    hamiltonian = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.4), ("IY", -0.2)])
    result = exact.run([(bell(False), observables), (circuit, hamiltonian, points)]).result(
        RESULT_TIMEOUT
    )
    assert result[0].data.evs == pytest.approx([1.0, 1.0, 1.5])
    assert np.all(result[0].data.stds == 0)
    expected = [
        Statevector(circuit.assign_parameters(p)).expectation_value(hamiltonian).real
        for p in points
    ]
    assert result[1].data.evs.shape == (8,)
    assert result[1].data.evs == pytest.approx(expected, abs=1e-9)

    noisy = EstimatorV2(worker_hub.backend("generic-5-noisy"), seed=4)
    precision = 0.03
    shot = noisy.run([(circuit, hamiltonian, points[:3])], precision=precision).result(
        RESULT_TIMEOUT
    )[0]
    assert shot.metadata["exact"] is False
    assert shot.metadata["shots"] == math.ceil(1 / precision**2)
    stds = shot.data.stds
    assert np.all(stds > 0) and np.all(stds < 2 * precision * 1.7)
    # Noisy hardware-like device: within statistical error plus the noise's bias.
    assert shot.data.evs == pytest.approx(expected[:3], abs=5 * precision + 0.15)
    bell_noisy = noisy.run([(bell(False), ["ZZ", "XX"])], precision=0.05).result(RESULT_TIMEOUT)
    assert np.all(bell_noisy[0].data.evs > 0.75)


def test_a_primitive_job_can_be_cancelled_and_errors_are_typed(hub):
    backend = hub.backend("aer-simulator")
    job = SamplerV2(backend).run([bell()])  # no worker: it stays queued
    assert job.status().name == "QUEUED" and job.queue_position() == 1
    assert job.cost() > 0  # the estimate until it is charged
    assert job.cancel() is True and job.cancelled()
    assert job.cost() == 0 and job.queue_position() is None
    with pytest.raises(JobCancelledError):
        job.result(timeout=5)

    a, b = Parameter("a"), Parameter("b")
    rotation = QuantumCircuit(1)
    rotation.rx(a, 0)
    rotation.ry(b, 0)
    rotation.measure_all()
    with pytest.raises(ValueError):  # Qiskit's own PUB check, before anything is sent
        SamplerV2(backend).run([(rotation, [[0.1, 0.2, 0.3]])])
    with pytest.raises(RequestValidationError) as caught:
        SamplerV2(backend).run([bell()] * 101)
    assert caught.value.code == "limit_exceeded" and caught.value.details["limit"] == "max_pubs"
    with pytest.raises(RequestValidationError) as caught:
        EstimatorV2(backend).run([(bell(False), "ZZ")], precision=0.0001)
    assert caught.value.code == "invalid_pubs" and "precision" in caught.value.message


def test_the_readme_use_it_from_qiskit_example_runs(worker_hub, portal, monkeypatch, capsys):
    from tests.worker_process import ROOT

    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Qiskit", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("QH_URL", portal.url)
    monkeypatch.setenv("QH_LOGIN", portal.user.username)
    monkeypatch.setenv("QH_PASSWORD", portal.password)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "(2, 100) 1.0 1.0"
    counts = ast.literal_eval(printed[1])
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000


def test_the_target_carries_the_published_error_figures(portal, hub):
    falcon = hub.backend("falcon-27-noisy")
    figures = falcon.device["error_figures"]
    readout = figures["qubits"][0]["readout_error"]
    assert falcon.target["measure"][(0,)].error == pytest.approx(readout)
    edge_errors = {tuple(sorted(e["qubits"])): e["error"] for e in figures["edges"]}
    assert set(edge_errors) == {tuple(sorted(e)) for e in falcon.coupling_map.get_edges()}
    for edge in falcon.coupling_map.get_edges():  # each coupling's own 2-qubit error
        assert falcon.target["cx"][edge].error == pytest.approx(edge_errors[tuple(sorted(edge))])
    assert falcon.target["rz"][(3,)].error == 0.0  # virtual
    assert falcon.target["sx"][(3,)].error == pytest.approx(figures["qubits"][3]["gate_error_1q"])
    assert falcon.target.qubit_properties[0].t1 == pytest.approx(
        figures["qubits"][0]["t1_us"] * 1e-6
    )
    generic = hub.backend("generic-5-noisy")  # GenericBackendV2's per-qubit figures differ
    errors = {generic.target["measure"][(q,)].error for q in range(5)}
    assert len(errors) > 1
    assert hub.backend("aer-simulator").device["error_figures"] is None  # noiseless
