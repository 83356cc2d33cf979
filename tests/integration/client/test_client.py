"""The Qiskit client (client/, quantum_hub_client) over HTTP against a live portal and a real
worker: backends and their Target, jobs, results, memory, cancel, typed errors, transpiling
for a device-like entry, and Qiskit's BackendSamplerV2 / BackendEstimatorV2 on top."""

from __future__ import annotations

import ast
import math
import socket
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Parameter
from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
from qiskit.providers import JobStatus, JobTimeoutError
from qiskit.quantum_info import SparsePauliOp
from quantum_hub_client import (
    AuthenticationError,
    HubConnectionError,
    JobCancelledError,
    JobFailedError,
    JobTimeout,
    NotFoundError,
    PermissionDeniedError,
    ProgramError,
    QuantumHubProvider,
    RateLimitError,
    RequestValidationError,
    ServerError,
)
from quantum_hub_client.job import reconstruct_memory

from portal.execution.models import Job
from portal.execution.models import JobStatus as JobStatus_
from tests.factories.accounts import make_api_key
from tests.worker_process import ROOT

pytestmark = pytest.mark.timeout(240)
RESULT_TIMEOUT = 120  # the worker imports Qiskit when it starts; two cores are shared


def bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def ghz(n: int = 3) -> QuantumCircuit:
    qc = QuantumCircuit(n, name=f"ghz{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return qc


def test_backends_carry_a_target_from_the_catalogue(portal, hub):
    names = {b.name for b in hub.backends()}
    assert {"aer-simulator", "aer-stabilizer", "falcon-27-noisy", "generic-5-noisy"} <= names
    assert {b.name for b in hub.backends(device_like=True)} == {
        "falcon-27-noisy",
        "ion-trap-11-noisy",
        "generic-5-noisy",
    }
    assert all(b.num_qubits >= 100 for b in hub.backends(min_qubits=100))
    assert {b.name for b in hub.backends(technology="trapped_ion")} == {"ion-trap-11-noisy"}
    assert {b.name for b in hub.backends(technology="superconducting")} == {
        "falcon-27-noisy",
        "generic-5-noisy",
    }
    assert {b.name for b in hub.backends(status="online")} == names  # all online
    assert hub.backends(status="maintenance") == []
    assert [b.name for b in hub.backends("aer-stabilizer")] == ["aer-stabilizer"]

    falcon = hub.backend("falcon-27-noisy")
    assert falcon.num_qubits == 27
    assert set(falcon.operation_names) == {"cx", "id", "rz", "sx", "x", "measure", "reset"}
    edges = {tuple(e) for e in falcon.device["connectivity_map"]}
    assert set(falcon.coupling_map.get_edges()) == edges
    assert falcon.max_circuits == 100
    assert (falcon.options.shots, falcon.options.memory, falcon.options.seed_simulator) == (
        1024,
        False,
        None,
    )
    with pytest.raises(ValueError, match="shots"):  # the device's max_shots bounds the option
        falcon.set_options(shots=falcon.device["max_shots"] + 1)
    with pytest.raises(ValueError, match="max_circuits"):  # refused before anything is sent
        falcon.run([bell()] * 101)
    with pytest.raises(TypeError, match="unknown run options"):
        falcon.run(bell(), shot=10)

    simulator = hub.backend("aer-simulator")
    assert simulator.coupling_map is None  # all-to-all: nothing to lay out
    with pytest.raises(NotFoundError) as caught:
        hub.backend("no-such-device")
    assert caught.value.status == 404 and caught.value.code == "not_found"


def test_sign_in_and_key_errors_are_typed(portal):
    signed_in = QuantumHubProvider(portal.url, login=portal.user.username, password=portal.password)
    assert signed_in.session.token and signed_in.backend("aer-simulator").name == "aer-simulator"
    with_token = QuantumHubProvider(portal.url, token=signed_in.session.token)
    assert with_token.backend("aer-simulator").name == "aer-simulator"
    with pytest.raises(ValueError):  # exactly one credential
        QuantumHubProvider(portal.url, token="t", api_key="k")
    with pytest.raises(AuthenticationError) as caught:
        QuantumHubProvider(portal.url, login=portal.user.username, password="wrong-password-1")
    assert caught.value.status == 401
    with pytest.raises(AuthenticationError):
        QuantumHubProvider(portal.url, api_key="qh_not_a_real_key").backends()


def test_program_and_validation_errors_keep_code_line_and_column(hub):
    backend = hub.backend("aer-simulator")
    broken = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nh q[0]\nbit c;\n'
    with pytest.raises(ProgramError) as caught:
        backend.run(broken)
    error = caught.value
    assert (error.status, error.code) == (422, "program_error")
    assert error.line == 5 and isinstance(error.column, int)
    assert "line 5" in error.message
    with pytest.raises(RequestValidationError) as caught:  # over the device's 20,000 shots
        hub.backend("falcon-27-noisy").run(bell(), shots=1_000_000)
    assert caught.value.status == 422 and not isinstance(caught.value, ProgramError)
    too_wide = QuantumCircuit(6, name="wide")
    too_wide.h(range(6))
    too_wide.measure_all()
    with pytest.raises(RequestValidationError):  # generic-5-noisy has 5 qubits
        hub.backend("generic-5-noisy").run(too_wide)
    assert hub.jobs(limit=None) == []  # nothing was queued by any of these


def test_expired_access_token_is_renewed_and_scopes_are_typed(portal, committed_db):
    hub = QuantumHubProvider(portal.url, login=portal.user.username, password=portal.password)
    hub.session.token = "expired.access.token"
    assert hub.backend("aer-simulator").name == "aer-simulator"  # refreshed once, retried
    assert hub.session.token != "expired.access.token" and hub.session.refresh_token

    _, read_only = make_api_key(portal.user, name="read only", scopes=("read",))
    committed_db.commit()
    reader = QuantumHubProvider(portal.url, api_key=read_only)
    with pytest.raises(PermissionDeniedError) as caught:
        reader.backend("aer-simulator").run(bell())
    assert caught.value.status == 403 and caught.value.details["needed_scope"] == "jobs"


def test_estimate_timeout_and_a_failed_job(hub, committed_db):
    backend = hub.backend("aer-simulator")
    estimate = backend.estimate(bell(), shots=1000)
    assert estimate["estimated_cost"] > 0 and estimate["circuit"]["qubits"] == 2

    job = backend.run(bell(), shots=100)  # no worker: it stays queued
    with pytest.raises(JobTimeout) as caught:
        job.result(timeout=0.5)
    assert isinstance(caught.value, JobTimeoutError)
    row = committed_db.get(Job, job.job_id())  # what the reconciler does to a dead worker's job
    row.status, row.failure_reason = JobStatus_.FAILED, "The worker stopped."
    committed_db.commit()
    assert job.status() is JobStatus.ERROR
    with pytest.raises(JobFailedError, match="The worker stopped"):
        job.result(timeout=5)
    assert job.cancel() is False


def test_cancel_a_queued_job(hub):
    backend = hub.backend("aer-simulator")
    job = backend.run(bell(), shots=100)  # no worker: it waits in the queue
    assert job.status() is JobStatus.QUEUED
    assert job.queue_position() == 1  # 1 = next to run
    assert job.cost() == Decimal(hub.session.get(f"/jobs/{job.job_id()}")["estimated_cost"])
    assert job.cancel() is True
    assert job.status() is JobStatus.CANCELLED
    assert job.cost() == 0
    with pytest.raises(JobCancelledError):
        job.result(timeout=5)
    assert job.cancel() is False  # already finished: nothing to cancel


def test_bell_and_ghz_counts_memory_and_retrieval(worker_hub):
    hub = worker_hub
    backend = hub.backend("aer-simulator")
    two_registers = QuantumCircuit(
        QuantumRegister(3), ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    )
    two_registers.x(2)
    two_registers.measure([0, 1, 2], [0, 1, 2])  # a = 00, b = 1
    job = backend.run([bell(), ghz(3), two_registers], shots=500, memory=True, tags=["client"])
    assert len(job.portal_ids) == 3 and "," in job.job_id()
    result = job.result(timeout=RESULT_TIMEOUT)
    assert job.status() is JobStatus.DONE and result.success

    bell_counts = result.get_counts(0)
    assert set(bell_counts) <= {"00", "11"} and sum(bell_counts.values()) == 500
    assert min(bell_counts.values()) > 150  # ~250 each; 150 is > 8 sigma away
    ghz_counts = result.get_counts(1)
    assert set(ghz_counts) <= {"000", "111"} and sum(ghz_counts.values()) == 500
    assert result.get_counts(2) == {"1 00": 500}  # registers split as Qiskit does

    for index in range(3):
        memory = result.get_memory(index)
        assert len(memory) == 500
        assert Counter(memory) == result.get_counts(index)  # the portal's per-shot memory
        assert "memory_reconstructed" not in result.results[index].metadata
        assert isinstance(result.results[index].metadata["seed_simulator"], int)

    assert job.cost() > 0
    assert job.cancel() is False  # finished: the portal answers 409, nothing is cancelled
    again = hub.job(job.job_id()).result(timeout=RESULT_TIMEOUT)  # by id: registers c0, c1
    assert again.get_counts(0) == bell_counts and again.get_counts(2) == {"1 00": 500}
    listed = hub.jobs(tags=["client"], status="COMPLETED", limit=None)
    assert {j.job_id() for j in listed} == set(job.portal_ids)
    by_qiskit_status = hub.jobs(tags="client", status=JobStatus.DONE, limit=None)
    assert {j.job_id() for j in by_qiskit_status} == set(job.portal_ids)
    assert hub.jobs(tags="client", status=JobStatus.CANCELLED) == []
    assert len(hub.jobs(tags=["client"], limit=2, offset=2)) == 1
    assert hub.jobs(tags=["client", "other"]) == []

    # Free parameters go out as OpenQASM 3 inputs; parameter_binds (Aer's form) gives their
    # values, each binding one experiment of the result, in order.
    theta = Parameter("θ")
    rotation = QuantumCircuit(1, 1, name="rotation")
    rotation.rx(theta, 0)
    rotation.measure(0, 0)
    with pytest.raises(ValueError, match="parameter_binds"):
        backend.run(rotation)
    swept = backend.run(
        [rotation, bell()], parameter_binds=[{theta: [0.0, math.pi]}, {}], shots=100
    )
    assert len(swept.portal_ids) == 3
    swept_result = swept.result(timeout=RESULT_TIMEOUT)
    assert swept_result.get_counts(0) == {"0": 100} and swept_result.get_counts(1) == {"1": 100}
    assert set(swept_result.get_counts(2)) <= {"00", "11"}
    assert hub.session.get(f"/jobs/{swept.portal_ids[1]}")["inputs"] == {"p0000": math.pi}

    unmeasured = QuantumCircuit(2, name="unmeasured")  # the portal measures every qubit
    unmeasured.x(1)
    result = backend.run(unmeasured, shots=50).result(timeout=RESULT_TIMEOUT)
    assert result.get_counts() == {"10": 50}
    assert result.results[0].header["creg_sizes"] == [["meas", 2]]
    assert result.to_dict()["results"][0]["data"]["counts"] == {"0x2": 50}


def test_transpile_respects_the_device_coupling_map(worker_hub):
    falcon = worker_hub.backend("falcon-27-noisy")
    circuit = ghz(5)
    compiled = transpile(circuit, falcon, optimization_level=1, seed_transpiler=3)
    edges = set(falcon.coupling_map.get_edges())
    for instruction in compiled.data:
        assert instruction.operation.name in {*falcon.operation_names, "barrier"}
        if instruction.operation.num_qubits == 2:
            pair = tuple(compiled.find_bit(q).index for q in instruction.qubits)
            assert pair in edges, f"{instruction.operation.name} on {pair} is not on the map"
    counts = falcon.run(compiled, shots=2000).result(timeout=RESULT_TIMEOUT).get_counts()
    assert sum(counts.values()) == 2000
    assert counts.get("00000", 0) + counts.get("11111", 0) > 0.75 * 2000  # noisy, mostly GHZ
    assert len(counts) > 2  # the device-like noise shows

    # The ISA workflow on the device: an estimator on the transpiled state, the observable
    # laid out on the same physical qubits. Noisy, so <ZZ> is near 1, not 1.
    state = QuantumCircuit(2)
    state.h(0)
    state.cx(0, 1)
    isa = transpile(state, falcon, optimization_level=1, seed_transpiler=3)
    observable = SparsePauliOp("ZZ").apply_layout(isa.layout)
    estimator = BackendEstimatorV2(backend=falcon, options={"default_precision": 0.05})
    zz = float(estimator.run([(isa, observable)]).result()[0].data.evs)
    assert 0.8 < zz <= 1.0


def test_trapped_ion_native_gates(worker_hub):
    ion = worker_hub.backend("ion-trap-11-noisy")
    assert ion.coupling_map is None and "rxx" in ion.operation_names
    compiled = transpile(bell(), ion, seed_transpiler=1)
    assert "rxx" in compiled.count_ops() and "cx" not in compiled.count_ops()
    counts = ion.run(compiled, shots=1000).result(timeout=RESULT_TIMEOUT).get_counts()
    assert counts.get("00", 0) + counts.get("11", 0) > 850


def test_backend_sampler_and_estimator_v2(worker_hub):
    backend = worker_hub.backend("aer-simulator")
    sampler = BackendSamplerV2(backend=backend)
    measured = QuantumCircuit(2)
    measured.h(0)
    measured.cx(0, 1)
    measured.measure_all()
    job = sampler.run([measured], shots=400)
    pub_result = job.result()[0]
    counts = pub_result.data.meas.get_counts()
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 400
    assert pub_result.data.meas.num_shots == 400

    estimator = BackendEstimatorV2(backend=backend)
    state = QuantumCircuit(2)
    state.h(0)
    state.cx(0, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    result = estimator.run([(state, observables)], precision=0.05).result()[0]
    zz, xx, zi = (float(v) for v in result.data.evs)
    stds = [float(s) for s in result.data.stds]
    shots = math.ceil(1 / 0.05**2)
    assert zz == pytest.approx(1.0, abs=5 / math.sqrt(shots) + 1e-9)
    assert xx == pytest.approx(1.0, abs=5 / math.sqrt(shots) + 1e-9)
    assert zi == pytest.approx(0.0, abs=5 / math.sqrt(shots))
    assert stds[2] > 0


def test_reconstructed_memory_is_the_exact_multiset():
    import random

    counts = {"00": 3, "11": 2, "1 0": 1}
    memory = reconstruct_memory(counts, random.Random(1))
    assert Counter(memory) == {"0x0": 3, "0x3": 2, "0x2": 1}


def test_the_readme_example_runs(worker_hub, portal, monkeypatch, capsys):
    text = (ROOT / "client" / "README.md").read_text()
    section = text.split("## Use it from Qiskit", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("QH_URL", portal.url)
    monkeypatch.setenv("QH_LOGIN", portal.user.username)
    monkeypatch.setenv("QH_PASSWORD", portal.password)
    exec(compile(code, "client/README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert "falcon-27-noisy" in printed[0]
    assert "'00'" in printed[2] and "'11'" in printed[2]
    assert set(ast.literal_eval(printed[3])) <= {"00", "11"}  # the sampler, noiseless


def test_error_envelopes_without_a_portal_error_are_still_typed():
    from quantum_hub_client.exceptions import error_from_response

    gateway = error_from_response(502, "<html>Bad Gateway</html>")
    assert isinstance(gateway, ServerError) and gateway.status == 502 and gateway.code is None
    limited = error_from_response(
        429, {"error": {"code": "rate_limited", "message": "Slow down."}}, {"Retry-After": "7"}
    )
    assert isinstance(limited, RateLimitError) and limited.retry_after == 7
    assert str(limited) == "[429 rate_limited] Slow down."


def test_an_unreachable_portal_is_a_connection_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hub = QuantumHubProvider(f"http://127.0.0.1:{port}", api_key="qh_x", timeout=5)
    with pytest.raises(HubConnectionError):
        hub.backends()


def test_the_client_under_test_is_this_checkouts():
    import quantum_hub_client

    assert ROOT / "client" in Path(quantum_hub_client.__file__).resolve().parents
