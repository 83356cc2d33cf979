"""Big circuits: the simulation method follows the circuit, and a state over the workers'
memory budget (QH_WORKER_MEMORY_MB) is refused at submission, never run into a worker's death."""

from __future__ import annotations

import pytest

from portal.config import default_worker_memory_mb
from portal.core.extensions import db
from portal.execution.models import Job, JobStatus
from portal.execution.runner import run_job
from tests.factories.accounts import UserFactory
from tests.integration.execution.test_worker import wait_status

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def ghz(n: int) -> str:
    lines = [f"qreg q[{n}];", f"creg c[{n}];", "h q[0];"]
    lines += [f"cx q[{i}],q[{i + 1}];" for i in range(n - 1)]
    return HEAD + "\n".join([*lines, "measure q -> c;", ""])


def line_with_t_gates(n: int) -> str:
    """A line of CNOTs between neighbours with a few non-Clifford gates: little entanglement."""
    lines = [f"qreg q[{n}];", f"creg c[{n}];", "h q[0];", "t q[0];"]
    lines += [f"cx q[{i}],q[{i + 1}];" for i in range(n - 1)]
    lines += ["rz(0.3) q[50];", "t q[99];", "measure q -> c;", ""]
    return HEAD + "\n".join(lines)


def all_to_all(n: int) -> str:
    """Non-Clifford and two-qubit gates between far qubits: a state vector, nothing else."""
    lines = [f"qreg q[{n}];", f"creg c[{n}];", "h q;", "t q[0];", f"cx q[0],q[{n - 1}];"]
    return HEAD + "\n".join([*lines, "measure q -> c;", ""])


@pytest.fixture
def budget(app, monkeypatch):
    """The default budget of this machine (a quarter of its memory), whatever ran before."""
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", default_worker_memory_mb())
    return app.config["WORKER_MEMORY_MB"]


@pytest.fixture
def consumer(committed_db, catalogue):
    user = UserFactory()
    committed_db.commit()
    return user


def submit(client, headers, source, device="aer-simulator", shots=20):
    return client.post(
        "/api/v1/jobs",
        json={"program": {"source": source}, "device": device, "shots": shots},
        headers=headers,
    )


def result_of(client, headers, job_id):
    db.session.remove()
    response = client.get(f"/api/v1/jobs/{job_id}/result", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_state_over_the_budget_is_refused_with_the_figure(
    app, monkeypatch, client, api_headers, consumer
):
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 6 * 1024)
    headers = api_headers(consumer)
    refused = submit(client, headers, all_to_all(34))
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "not_enough_memory"
    message = error["message"]
    assert "A 34-qubit state vector needs 256 GiB" in message
    assert "the workers allow 6 GiB (QH_WORKER_MEMORY_MB=6144" in message
    assert "fewer qubits" in message and "stabilizer" in message
    assert error["details"] == {
        "qubits": 34,
        "method": "statevector",
        "state_bytes": 16 * 2**34,
        "memory_budget_mb": 6144,
    }
    # A device that fixes its method is bounded too, and so is the estimate.
    # (a Clifford circuit, but aer-statevector keeps its method)
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 2048)
    fixed = submit(client, headers, ghz(28), "aer-statevector")
    assert fixed.status_code == 422, fixed.get_json()
    assert "28-qubit state vector needs 4 GiB" in fixed.get_json()["error"]["message"]
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1)
    dense = submit(client, headers, all_to_all(9), "aer-density-matrix")
    assert dense.status_code == 422, dense.get_json()
    assert "9-qubit density matrix needs 4 MiB" in dense.get_json()["error"]["message"]
    estimate = client.post(
        "/api/v1/jobs/estimate",
        json={"program": {"source": all_to_all(17)}, "device": "aer-simulator", "shots": 10},
        headers=headers,
    )
    assert estimate.status_code == 422 and "2 MiB" in estimate.get_json()["error"]["message"]
    db.session.remove()
    assert db.session.execute(db.select(db.func.count(Job.id))).scalar_one() == 0


def test_a_clifford_circuit_runs_on_the_stabilizer_even_with_1000_qubits(
    budget, client, api_headers, consumer
):
    headers = api_headers(consumer)
    estimate = client.post(
        "/api/v1/jobs/estimate",
        json={"program": {"source": ghz(1000)}, "device": "aer-simulator", "shots": 10},
        headers=headers,
    )
    assert estimate.status_code == 200, estimate.get_json()
    assert estimate.get_json()["circuit"]["method"] == "stabilizer"
    submitted = submit(client, headers, ghz(1000), shots=10)
    assert submitted.status_code == 201, submitted.get_json()
    job_id = submitted.get_json()["id"]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    result = result_of(client, headers, job_id)
    assert result["metadata"]["method"] == "stabilizer", result
    counts = result["counts"]
    assert set(counts) <= {"0" * 1000, "1" * 1000} and sum(counts.values()) == 10


def test_the_job_page_shows_the_method(budget, client, login_as, consumer, api_headers):
    submitted = submit(client, api_headers(consumer), ghz(3))
    job_id = submitted.get_json()["id"]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    login_as(consumer)
    page = client.get(f"/jobs/{job_id}")
    assert b'data-testid="job-method">stabilizer<' in page.data


def test_a_wide_low_entanglement_circuit_runs_as_a_matrix_product_state(
    budget, client, api_headers, consumer
):
    headers = api_headers(consumer)
    submitted = submit(client, headers, line_with_t_gates(100))
    assert submitted.status_code == 201, submitted.get_json()
    job_id = submitted.get_json()["id"]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    result = result_of(client, headers, job_id)
    assert result["metadata"]["method"] == "matrix_product_state", result
    counts = result["counts"]
    assert sum(counts.values()) == 20 and all(len(k) == 100 for k in counts)


def test_a_small_non_clifford_circuit_runs_as_a_state_vector(budget, client, api_headers, consumer):
    headers = api_headers(consumer)
    job_id = submit(client, headers, all_to_all(3)).get_json()["id"]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    assert result_of(client, headers, job_id)["metadata"]["method"] == "statevector"


@pytest.mark.timeout(240)
@pytest.mark.skipif(
    default_worker_memory_mb() < 4096, reason="a 28-qubit state vector needs 4 GiB of budget"
)
def test_a_28_qubit_state_vector_completes_on_a_real_worker(
    budget, client, api_headers, consumer, start_worker
):
    """4 GiB of state: the default budget (a quarter of this machine's memory) allows it. Kept
    cheap: one layer of gates on every qubit and a few shots."""
    headers = api_headers(consumer)
    submitted = submit(client, headers, all_to_all(28), shots=8)
    assert submitted.status_code == 201, submitted.get_json()
    start_worker()
    body = wait_status(
        client, headers, submitted.get_json()["id"], {"COMPLETED", "FAILED"}, timeout=200
    )
    assert body["status"] == "COMPLETED", body
    result = result_of(client, headers, body["id"])
    assert result["metadata"]["method"] == "statevector"
    assert sum(result["counts"].values()) == 8


def test_the_worker_refuses_a_state_over_its_own_budget(
    app, monkeypatch, client, api_headers, consumer
):
    """A worker with less memory than the web process planned for fails the job with the
    figure instead of running it."""
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1024)
    headers = api_headers(consumer)
    job_id = submit(client, headers, all_to_all(20)).get_json()["id"]  # 16 MiB
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1)
    assert run_job(job_id, worker=True) is JobStatus.FAILED
    db.session.remove()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    assert "20-qubit state vector needs 16 MiB" in str(job), job
