"""Sampler and Estimator primitive jobs on the API (issue 21): PUBs with parameter sweeps
broadcast as Qiskit's BindingsArray, per-register counts and per-shot samples in IBM's Runtime
REST shape, exact and shot-estimated expectation values, limits, price = charge, seeds and
per-shot memory for circuit jobs, and the transpile preview. Each request has its own context;
jobs run the way a worker runs them (committed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from portal.execution import primitives
from portal.execution.models import JobStatus
from portal.execution.runner import run_job
from tests.factories.accounts import UserFactory
from tests.factories.execution import BELL_QASM2

BELL3 = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nbit[2] c;\nqubit[2] q;\nh q[0];\n'
    "cx q[0], q[1];\nc = measure q;\n"
)
BELL_STATE = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'
RX = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nbit[1] c;\nqubit[1] q;\n'
    "rx(theta) q[0];\nc[0] = measure q[0];\n"
)


def ansatz() -> QuantumCircuit:
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    qc.ry(a, 0)
    qc.ry(b, 1)
    qc.cx(0, 1)
    qc.rz(a, 1)
    return qc


TWO = qasm3.dumps(ansatz())
MID_MEASURE = BELL3.replace("c = measure q;", "c = measure q;\nh q[0];")


@pytest.fixture
def committed_user(committed_db):
    user = UserFactory()
    committed_db.commit()
    return user


@pytest.fixture
def user():
    return UserFactory()


def post(client, headers, **body):
    body.setdefault("device", "aer-simulator")
    return client.post("/api/v1/jobs", json=body, headers=headers)


def run_and_read(client, headers, resp):
    assert resp.status_code == 201, resp.get_json()
    job_id = resp.get_json()["id"]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED
    job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    result = client.get(f"/api/v1/jobs/{job_id}/result", headers=headers).get_json()
    return job, result


def test_sampler_bell_counts_and_samples_per_register(
    client, api_headers, committed_user, catalogue
):
    headers = api_headers(committed_user)
    resp = post(client, headers, primitive="sampler", pubs=[[BELL3, None, 300]], memory=True)
    job, result = run_and_read(client, headers, resp)
    assert job["primitive"] == "sampler" and job["memory"] is True and job["shots"] == 300
    assert result["primitive"] == "sampler" and len(result["results"]) == 1
    c = result["results"][0]["data"]["c"]
    assert c["num_bits"] == 2 and set(c["counts"]) <= {"00", "11"}
    assert sum(c["counts"].values()) == 300
    assert len(c["samples"]) == 300 and set(c["samples"]) <= {"0x0", "0x3"}
    assert c["samples"].count("0x3") == c["counts"].get("11", 0)
    assert "results" not in result["metadata"]  # moved out, not stored twice


def test_a_100_point_sweep_is_one_job_and_one_run(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    thetas = np.linspace(0, math.pi, 100).tolist()
    resp = post(client, headers, primitive="sampler", pubs=[[RX, thetas, 200]])
    job, result = run_and_read(client, headers, resp)
    assert job["shots"] == 100 * 200  # priced as every binding's shots
    pub = result["results"][0]
    assert pub["metadata"]["bindings"] == 100 and pub["metadata"]["shape"] == [100]
    counts = pub["data"]["c"]["counts"]
    assert len(counts) == 100 and "samples" not in pub["data"]["c"]
    assert counts[0] == {"0": 200} and counts[-1] == {"1": 200}
    ones = [row.get("1", 0) / 200 for row in counts]
    expected = [math.sin(t / 2) ** 2 for t in thetas]
    assert max(abs(a - b) for a, b in zip(ones, expected, strict=True)) < 0.15


def test_bindings_have_shapes_and_broadcast_like_qiskit(
    client, api_headers, committed_user, catalogue
):
    source = qasm3.dumps(ansatz().measure_all(inplace=False))
    headers = api_headers(committed_user)
    grid = [[[0.0, 0.0], [0.0, math.pi], [math.pi, 0.0]], [[math.pi, math.pi]] * 3]  # (2, 3, 2)
    by_name = {"a": [[0.0, 0.0, math.pi]] * 2, "b": [[0.0, math.pi, 0.0]] * 2}  # (2, 3) each
    pubs = [[source, grid, 50], [source, by_name, 50]]
    resp = post(client, headers, primitive="sampler", pubs=pubs, memory=True)
    _, result = run_and_read(client, headers, resp)
    meas = result["results"][0]["data"]["meas"]
    assert result["results"][0]["metadata"]["shape"] == [2, 3]
    assert len(meas["counts"]) == 2 and all(len(row) == 3 for row in meas["counts"])
    assert len(meas["samples"][1][2]) == 50
    assert meas["counts"][0][0] == {"00": 50}  # a = b = 0: |00>
    assert result["results"][1]["data"]["meas"]["counts"][1][0] == {"00": 50}
    # Observables of shape (2, 1) broadcast against bindings of shape (3,): (2, 3) values.
    state = qasm3.dumps(ansatz())
    points = [[0.0, 0.0], [0.5, 1.0], [1.0, 2.0]]
    resp = post(client, headers, primitive="estimator", pubs=[[state, [["ZZ"], ["XI"]], points]])
    _, result = run_and_read(client, headers, resp)
    evs = result["results"][0]["data"]["evs"]
    assert np.shape(evs) == (2, 3) and evs[0][0] == pytest.approx(1.0)


def test_estimator_exact_bell_and_ansatz_sweep(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    circuit = ansatz()
    points = [[0.1 * i, 0.3 * i] for i in range(10)]
    pubs = [
        [BELL_STATE, [["ZZ", 1.0], ["XX", 0.5]]],
        [BELL_STATE, ["ZZ", "XX", {"YY": 1}]],
        [qasm3.dumps(circuit), {"ZZ": 1.0, "XI": 0.3}, points, 0.01],
    ]
    resp = post(client, headers, primitive="estimator", pubs=pubs)
    job, result = run_and_read(client, headers, resp)
    first, second, third = (r["data"] for r in result["results"])
    assert first["evs"] == pytest.approx(1.5) and first["stds"] == 0
    assert second["evs"] == pytest.approx([1.0, 1.0, -1.0])
    op = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.3)])
    exact = [
        Statevector(circuit.assign_parameters(dict(zip(circuit.parameters, p, strict=True))))
        .expectation_value(op)
        .real
        for p in points
    ]
    assert third["evs"] == pytest.approx(exact, abs=1e-9)
    meta = result["results"][2]["metadata"]
    assert meta["exact"] is True and meta["target_precision"] == 0.01 and meta["shots"] == 0
    assert job["shots"] == 1 + 1 + 10  # exact: one priced evaluation a binding


def test_estimator_on_a_noisy_device_estimates_from_shots(
    client, api_headers, committed_user, catalogue
):
    headers = api_headers(committed_user)
    pubs = [[BELL_STATE, ["ZZ", "XX"], None, 0.05]]
    est = client.post(
        "/api/v1/jobs/estimate",
        json={"device": "generic-5-noisy", "primitive": "estimator", "pubs": pubs},
        headers=headers,
    ).get_json()
    # ZZ and XX are not qubit-wise commuting: two measurement groups of ceil(1/0.05^2) shots.
    assert est["shots"] == 2 * 400
    resp = post(
        client, headers, device="generic-5-noisy", primitive="estimator", pubs=pubs,
        seed_simulator=7,
    )  # fmt: skip
    job, result = run_and_read(client, headers, resp)
    data, meta = result["results"][0]["data"], result["results"][0]["metadata"]
    assert meta["exact"] is False and meta["shots"] == 400 and meta["circuits"] == 2
    assert all(0.7 < ev <= 1.0 for ev in data["evs"])  # noisy, within a few errors of 1
    assert all(0 < s < 0.06 for s in data["stds"]) and data["ensemble_standard_error"]
    assert job["shots"] == est["shots"] and job["estimated_cost"] == est["estimated_cost"]
    assert job["actual_cost"] == est["estimated_cost"]  # the charge matches the quote
    assert job["seed_simulator"] == result["seed_simulator"] == 7  # recorded on the job
    assert job["noise_model_version"].startswith("generic-5")
    again = post(
        client, headers, device="generic-5-noisy", primitive="estimator", pubs=pubs,
        seed_simulator=7,
    )  # fmt: skip
    _, repeated = run_and_read(client, headers, again)
    assert repeated["results"][0]["data"] == data  # the same seed, the same estimates


def test_seed_gives_the_same_counts_and_is_recorded(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    body = {"device": "generic-5-noisy", "program": {"source": BELL_QASM2}, "shots": 500}
    runs = [run_and_read(client, headers, post(client, headers, **body, seed_simulator=1234))]
    runs.append(run_and_read(client, headers, post(client, headers, **body, seed_simulator=1234)))
    other = run_and_read(client, headers, post(client, headers, **body, seed_simulator=99))
    assert runs[0][1]["counts"] == runs[1][1]["counts"]
    assert runs[0][1]["counts"] != other[1]["counts"]  # noisy: a different seed differs
    job = runs[0][0]
    assert job["seed_simulator"] == 1234 and job["noise_model_version"].startswith("generic-5")
    assert runs[0][1]["seed_simulator"] == 1234
    assert runs[0][1]["noise_model_version"] == job["noise_model_version"]
    unseeded = run_and_read(client, headers, post(client, headers, **body))
    assert isinstance(unseeded[1]["seed_simulator"], int)  # Aer's seed, to reproduce it


def test_sampler_seeds_select_numpys_stream_on_the_ideal_simulator_and_aers_on_a_device(
    client, api_headers, committed_user, catalogue
):
    headers = api_headers(committed_user)
    pubs = [[RX, [0.4, 1.2, 2.0], 200]]

    def sampler(seed=None, device="aer-simulator", memory=True):
        body = {"device": device, "primitive": "sampler", "pubs": pubs, "memory": memory}
        if seed is not None:
            body["seed_simulator"] = seed
        return run_and_read(client, headers, post(client, headers, **body))[1]

    first, again, other = sampler(21), sampler(21), sampler(22)
    assert first["results"][0]["metadata"]["sampling"] == "numpy"
    assert first["results"] == again["results"]  # same seed: same counts and samples
    c = first["results"][0]["data"]["c"]
    assert other["results"][0]["data"]["c"]["counts"] != c["counts"]
    assert sampler(21, memory=False)["results"][0]["data"]["c"]["counts"] == c["counts"]
    assert first["seed_simulator"] == 21
    unseeded = sampler()
    assert isinstance(unseeded["seed_simulator"], int)  # drawn and recorded ...
    repeated = sampler(unseeded["seed_simulator"])
    assert repeated["results"] == unseeded["results"]  # ... so the run can be repeated
    noisy = sampler(21, device="generic-5-noisy")
    assert noisy["results"][0]["metadata"]["sampling"] == "aer"
    twice = sampler(21, device="generic-5-noisy")
    assert twice["results"][0]["data"] == noisy["results"][0]["data"]  # Aer's seeded shots


def test_memory_for_a_circuit_job(client, api_headers, committed_user, catalogue):
    headers = api_headers(committed_user)
    resp = post(client, headers, program={"source": BELL_QASM2}, shots=64, memory=True)
    job, result = run_and_read(client, headers, resp)
    assert job["memory"] is True and len(result["memory"]) == 64
    assert set(result["memory"]) <= {"0x0", "0x3"}
    plain = run_and_read(client, headers, post(client, headers, program={"source": BELL_QASM2}))
    assert plain[1]["memory"] is None and plain[0]["memory"] is False


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"primitive": "sampler", "pubs": [[BELL3]] * 101}, "limit_exceeded", "max_pubs"),
        ({"primitive": "sampler", "pubs": [[RX, [0.1] * 10_001]]}, "limit_exceeded",
         "max_bindings"),
        ({"primitive": "sampler", "pubs": [[RX, [0.1] * 60, 100_000]]}, "limit_exceeded",
         "max_total_shots"),
        ({"primitive": "sampler", "pubs": [[RX, [0.1] * 300, 1000]], "memory": True},
         "limit_exceeded", "max_memory_shots"),
        ({"primitive": "sampler", "pubs": []}, "validation_error", "pubs"),
        ({"primitive": "sampler", "pubs": [[RX]]}, "invalid_pubs", "theta"),
        ({"primitive": "sampler", "pubs": [[RX, {"phi": [1.0]}]]}, "invalid_pubs", "phi"),
        ({"primitive": "sampler", "pubs": [[TWO, [[1.0, 2.0, 3.0]]]]}, "invalid_pubs", "PUB 0"),
        ({"primitive": "sampler", "pubs": [[RX, ["x"]]]}, "invalid_pubs", "cannot be read"),
        ({"primitive": "sampler", "pubs": [[BELL3, None, 0]]}, "invalid_pubs", "between"),
        ({"primitive": "sampler", "pubs": [["OPENQASM 3.0;\nqubit q;\nh q\n"]]}, "program_error",
         "line"),
        ({"primitive": "estimator", "pubs": [[BELL_STATE, "ZZZ"]]}, "invalid_pubs", "PUB 0"),
        ({"primitive": "estimator", "pubs": [[BELL_STATE, "ZZ", None, 0.0001]]}, "invalid_pubs",
         "precision"),
        ({"primitive": "estimator", "pubs": [[BELL_STATE, {"ZZ": "one"}]]}, "invalid_pubs",
         "real numbers"),
        ({"primitive": "estimator", "pubs": [[BELL_STATE]]}, "invalid_pubs", "observables"),
        ({"primitive": "estimator", "pubs": [[MID_MEASURE, "ZZ"]]}, "invalid_pubs",
         "before its end"),
        ({"primitive": "sampler", "pubs": [[BELL3]], "program": {"source": BELL_QASM2}},
         "validation_error", "pubs"),
        ({"primitive": "sampler", "pubs": [[BELL3]], "seed_simulator": -1}, "validation_error",
         "seed_simulator"),
        ({"primitive": "tomography", "pubs": [[BELL3]]}, "validation_error", "primitive"),
        ({"program": {"source": BELL_QASM2}, "memory": "maybe"}, "validation_error", "memory"),
    ],
)  # fmt: skip
def test_bad_pubs_and_limits_are_clear_4xx(
    client, api_headers, user, catalogue, body, code, fragment
):
    headers = api_headers(user)
    resp = post(client, headers, **body)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == code, error
    assert fragment in error["message"] + str(error["details"])
    if code == "limit_exceeded":
        assert error["details"]["limit"] == fragment and error["details"]["maximum"] > 0
    assert client.get("/api/v1/jobs", headers=headers).get_json()["total"] == 0


def test_estimate_quotes_a_sweep_as_submitted_and_charges_it(
    client, api_headers, committed_user, catalogue
):
    headers = api_headers(committed_user)
    body = {"device": "aer-simulator", "primitive": "sampler", "pubs": [[RX, [0.5] * 50, 1000]]}
    quote = client.post("/api/v1/jobs/estimate", json=body, headers=headers).get_json()
    assert quote["shots"] == 50_000 and quote["estimated_cost"] == "0.51"  # 0.01 + 50k x 1e-5
    assert quote["primitive"]["pubs"] == [{"shape": [50], "bindings": 50, "shots": 50_000}]
    assert quote["primitive"]["limits"]["max_pubs"] == primitives.MAX_PUBS
    job, _ = run_and_read(client, headers, post(client, headers, **body))
    assert job["estimated_cost"] == quote["estimated_cost"] == job["actual_cost"]


def test_the_estimate_previews_the_transpiled_circuit(client, api_headers, user, catalogue):
    headers = api_headers(user)
    ghz = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[4];\ncreg c[4];\nh q[0];\n'
        "cx q[0],q[1];\ncx q[0],q[2];\ncx q[0],q[3];\nmeasure q -> c;\n"
    )
    falcon = client.post(
        "/api/v1/jobs/estimate",
        json={"device": "falcon-27-noisy", "shots": 100, "program": {"source": ghz}},
        headers=headers,
    ).get_json()["transpile"]
    assert falcon["transpiled"] is True and falcon["device"] == "falcon-27-noisy"
    assert falcon["two_qubit_gates"] >= 3 and set(falcon["gate_counts"]) <= {
        "cx", "rz", "sx", "x", "measure", "barrier", "id", "reset",
    }  # fmt: skip
    plain = client.post(
        "/api/v1/jobs/estimate",
        json={"device": "aer-simulator", "shots": 100, "program": {"source": ghz}},
        headers=headers,
    ).get_json()["transpile"]
    assert plain["transpiled"] is False and plain["two_qubit_gates"] == 3
    assert plain["depth"] == 5 and plain["size"] == 8
    sweep = client.post(
        "/api/v1/jobs/estimate",
        json={"device": "falcon-27-noisy", "primitive": "sampler", "pubs": [[RX, [0.1, 0.2]]]},
        headers=headers,
    ).get_json()
    assert sweep["transpile"]["transpiled"] is True and sweep["transpile"]["two_qubit_gates"] == 0


def test_the_openapi_document_describes_primitive_payloads_and_results(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    create = next(v for k, v in schemas.items() if k.startswith("JobCreate"))["properties"]
    assert "BindingsArray" in create["pubs"]["description"]
    assert "<observables>, <parameter values>, <precision>" in create["pubs"]["description"]
    assert "SparsePauliOp" in create["pubs"]["description"]
    assert create["pubs"]["example"][0][2] == 1024  # [program, values, shots]
    assert create["primitive"]["enum"] == ["sampler", "estimator"]
    assert {"memory", "seed_simulator", "options"} <= set(create)
    result = next(v for k, v in schemas.items() if k.startswith("Result"))["properties"]
    assert "samples" in result["results"]["description"]
    assert "evs" in result["results"]["description"]
    assert "ensemble_standard_error" in result["results"]["description"]
    assert "target_precision" in result["results"]["description"]
    assert {"memory", "seed_simulator", "noise_model_version"} <= set(result)
    estimate = next(v for k, v in schemas.items() if k.startswith("Estimate") and "transpile"
                    in v.get("properties", {}))  # fmt: skip
    assert "two_qubit_gates" in estimate["properties"]["transpile"]["description"]
    assert "limits" in estimate["properties"]["primitive"]["description"]
    job = next(v for k, v in schemas.items() if k == "Job")["properties"]
    assert {"primitive", "memory", "seed_simulator", "noise_model_version"} <= set(job)


def test_job_pages_of_primitive_jobs(client, api_headers, login_as, committed_user, catalogue):
    headers = api_headers(committed_user)
    sweep = post(client, headers, primitive="sampler", pubs=[[RX, [0.0, 3.14159], 100]])
    sweep_job, _ = run_and_read(client, headers, sweep)
    estimate = post(client, headers, primitive="estimator", pubs=[[BELL_STATE, "ZZ"]])
    estimator_job, _ = run_and_read(client, headers, estimate)
    login_as(committed_user)
    for job in (sweep_job, estimator_job):
        page = client.get(f"/jobs/{job['id']}")
        assert page.status_code == 200
        assert job["name"] in page.get_data(as_text=True)
        assert client.get(f"/jobs/{job['id']}/result.json").get_json()["primitive"]
    assert sweep_job["name"] == "sampler of 1 PUB(s) on aer-simulator"
    csv = client.get(f"/jobs/{sweep_job['id']}/result.csv").get_data(as_text=True)
    assert csv.startswith("outcome,count,probability") and "0,100," in csv  # the first binding
