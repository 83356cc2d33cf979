"""Execution API: catalogue, validation, ownership (in one transaction), and jobs run to
their results the way a worker runs them (committed, so the worker's connection sees them)."""

from __future__ import annotations

import pytest

from portal.execution.models import HardwareStatus, JobStatus
from portal.execution.runner import run_job
from tests.factories.accounts import UserFactory
from tests.factories.execution import BELL_QASM2, HardwareFactory, JobFactory

QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
qubit[1] q;
bit[1] c;
rx(theta) q[0];
c[0] = measure q[0];
"""


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def committed_user(committed_db):
    user = UserFactory()
    committed_db.commit()
    return user


def submit(client, headers, **body):
    body.setdefault("device", "aer-simulator")
    body.setdefault("shots", 200)
    return client.post("/api/v1/jobs", json=body, headers=headers)


def test_hardware_list_and_filters(client, api_headers, user, catalogue):
    headers = api_headers(user)
    body = client.get("/api/v1/hardware", headers=headers).get_json()
    names = {h["name"] for h in body["items"]}
    assert {"aer-simulator", "aer-stabilizer", "falcon-27-noisy", "generic-5-noisy"} <= names
    assert body["total"] == len(body["items"])
    sc = client.get("/api/v1/hardware?technology=SUPERCONDUCTING", headers=headers).get_json()
    assert {h["name"] for h in sc["items"]} == {"falcon-27-noisy", "generic-5-noisy"}
    big = client.get("/api/v1/hardware?min_qubits=100", headers=headers).get_json()
    assert {h["name"] for h in big["items"]} == {
        "aer-simulator",  # 1,000 qubits: stabilizer or matrix-product state when it must
        "aer-matrix-product-state",
        "aer-stabilizer",
    }
    falcon = client.get("/api/v1/hardware/falcon-27-noisy", headers=headers).get_json()
    assert falcon["device_like"] and [0, 1] in falcon["connectivity_map"]
    by_id = client.get(f"/api/v1/hardware/{falcon['id']}", headers=headers)
    assert by_id.status_code == 200
    assert client.get("/api/v1/hardware/nope", headers=headers).status_code == 404
    assert client.get("/api/v1/hardware?status=BAD", headers=headers).status_code == 422
    assert client.get("/api/v1/hardware").status_code == 401


def test_submit_then_the_worker_runs_it_to_a_result(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    resp = submit(client, headers, program={"source": BELL_QASM2}, tags=["demo"])
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "QUEUED"
    assert run_job(resp.get_json()["id"], worker=True) is JobStatus.COMPLETED
    job = client.get(f"/api/v1/jobs/{resp.get_json()['id']}", headers=headers).get_json()
    assert job["status"] == "COMPLETED" and job["estimated_cost"] == "0.01"
    result = client.get(job["result_url"], headers=headers).get_json()
    assert set(result["counts"]) <= {"00", "11"} and sum(result["counts"].values()) == 200
    assert result["transpiled_depth"] >= 2 and result["metadata"]["backend"] == "aer-simulator"
    listed = client.get("/api/v1/jobs?tag=demo", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    assert client.get("/api/v1/jobs?status=FAILED", headers=headers).get_json()["total"] == 0


def test_qasm3_inputs_and_estimate(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    resp = submit(
        client, headers, program={"format": "qasm3", "source": QASM3}, inputs={"theta": 3.14159265}
    )
    assert resp.status_code == 201
    run_job(resp.get_json()["id"], worker=True)
    counts = client.get(resp.get_json()["result_url"], headers=headers).get_json()["counts"]
    assert counts.get("1", 0) >= 195  # rx(pi) flips the qubit
    est = client.post(
        "/api/v1/jobs/estimate",
        json={"device": "falcon-27-noisy", "shots": 1000, "program": {"source": BELL_QASM2}},
        headers=headers,
    ).get_json()
    assert est["estimated_cost"] == "0.20" and est["circuit"]["qubits"] == 2


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"program": {"source": "OPENQASM 2.0;\nqreg q[1];\nh q[0]\n"}}, 422, "program_error",
         "line 3"),
        ({"program": {"source": "x" * 70_000}}, 422, "program_error", "limit"),
        ({"program": {"source": BELL_QASM2}, "device": "nowhere"}, 404, "not_found", "nowhere"),
        ({"program": {"source": BELL_QASM2}, "shots": 0}, 422, "validation_error", "between"),
        ({"program": {"source": BELL_QASM2}, "shots": 10**7}, 422, "validation_error", "between"),
        ({"program": {"source": BELL_QASM2}, "device": "generic-5-noisy", "shots": 50_000}, 422,
         "validation_error", "20000"),
        ({"program": {"source": "OPENQASM 2.0;\nqreg q[6];\n"}, "device": "generic-5-noisy"},
         422, "too_many_qubits", "6 qubits"),
        ({"program": {"source": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nt q[0];\n'},
          "device": "aer-stabilizer"}, 422, "unsupported_gates", "Clifford"),
        ({"program": {"source": QASM3}}, 422, "invalid_inputs", "theta"),
        ({"program": {"source": QASM3}, "inputs": {"theta": "x"}}, 422, "invalid_inputs", "number"),
        ({}, 422, "validation_error", "program"),
        ({"program": {"source": BELL_QASM2, "format": "qasm3"}}, 422, "program_error", "header"),
        ({"program": {"source": BELL_QASM2}, "run_mode": "SOMETIMES"}, 422, "validation_error",
         "invalid"),
    ],
)  # fmt: skip
def test_every_validation_error_is_a_clear_4xx(
    client, api_headers, user, catalogue, body, status, code, fragment
):
    resp = submit(client, api_headers(user), **body)
    assert resp.status_code == status, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == code
    assert fragment in error["message"] + str(error["details"])
    assert client.get("/api/v1/jobs", headers=api_headers(user)).get_json()["total"] == 0


def test_qasm2_without_header_runs_when_the_format_is_qasm2(
    client, api_headers, committed_user, catalogue
):
    headers = api_headers(committed_user)
    headerless = BELL_QASM2.replace("OPENQASM 2.0;\n", "")
    assert "OPENQASM" not in headerless
    resp = submit(client, headers, program={"source": headerless, "format": "qasm2"})
    assert resp.status_code == 201, resp.get_json()
    assert run_job(resp.get_json()["id"], worker=True) is JobStatus.COMPLETED
    refused = submit(client, headers, program={"source": headerless})  # no format, no header
    assert refused.status_code == 422 and "header" in refused.get_json()["error"]["message"]


def test_qasm2_error_position_is_in_the_details(client, api_headers, user, catalogue):
    source = "OPENQASM 2.0;\nqreg q[2];\ncreg c[2];\nmeasure q[0 -> c[0];\n"
    resp = submit(client, api_headers(user), program={"source": source, "format": "qasm2"})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["details"]["line"] == 4 and error["details"]["column"] == 13
    assert "<input>" not in error["message"] and "closing bracket" in error["message"]


def test_qasm3_circuit_error_is_a_422_with_its_position(client, api_headers, user, catalogue):
    source = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\nh q[5];\n'
    resp = submit(client, api_headers(user), program={"source": source})
    assert resp.status_code == 422, resp.get_json()  # Qiskit's IndexError used to be a 500
    error = resp.get_json()["error"]
    assert error["code"] == "program_error"
    assert error["details"]["line"] == 5 and error["details"]["column"] == 1


def test_offline_device_is_refused(client, api_headers, user):
    hw = HardwareFactory(status=HardwareStatus.MAINTENANCE)
    resp = submit(client, api_headers(user), program={"source": BELL_QASM2}, device=hw.name)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "device_unavailable"
    assert "maintenance" in resp.get_json()["error"]["message"]


def test_another_users_job_is_404(client, api_headers, user):
    other = JobFactory()
    headers = api_headers(user)
    assert client.get(f"/api/v1/jobs/{other.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/jobs/{other.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{other.id}/result", headers=headers).status_code == 404
    assert client.get("/api/v1/jobs/not-a-uuid", headers=headers).status_code == 404
    assert client.get("/api/v1/jobs", headers=headers).get_json()["total"] == 0
    assert (
        client.get(f"/api/v1/jobs/{other.id}", headers=api_headers(other.user)).status_code == 200
    )


def test_cancel_queued_job_and_conflicts(client, api_headers):
    job = JobFactory()
    headers = api_headers(job.user)
    detail = client.get(f"/api/v1/jobs/{job.id}", headers=headers).get_json()
    assert detail["queue_position"] == 1
    assert client.get(f"/api/v1/jobs/{job.id}/result", headers=headers).status_code == 409
    resp = client.delete(f"/api/v1/jobs/{job.id}", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "CANCELLED"
    assert client.delete(f"/api/v1/jobs/{job.id}", headers=headers).status_code == 200
    done = JobFactory(user=job.user, status=JobStatus.COMPLETED)
    assert client.delete(f"/api/v1/jobs/{done.id}", headers=headers).status_code == 409
