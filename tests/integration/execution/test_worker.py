"""Real jobs through real Redis and a real worker process on PostgreSQL."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from redis import Redis

from portal.analytics.models import UsageAnalytics
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution import queue, reconciler
from portal.execution.models import Job, JobStatus
from portal.notifications.models import Notification
from tests.conftest import redis_url
from tests.factories.accounts import UserFactory

GHZ = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""
QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
input int[32] reps;
qubit[1] q;
bit[1] c;
rx(theta * reps) q[0];
c[0] = measure q[0];
"""
# Long enough on Aer (statevector, 20 qubits, many layers) to kill or cancel it mid-run.
SLOW = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[20];\ncreg c[20];\n'
    + "".join(f"h q[{i}];" for i in range(20))
    + "".join(f"cx q[{i}],q[{i + 1}];rz(0.1) q[{i + 1}];" for i in range(19)) * 30
    + "\nmeasure q -> c;\n"
)
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
pytestmark = pytest.mark.timeout(120)


def wait_status(client, headers, job_id, wanted, timeout=60.0):
    """Poll the API until the job reaches one of ``wanted`` (bounded, not a sleep-assert)."""
    deadline = time.monotonic() + timeout
    body = {}
    while time.monotonic() < deadline:
        db.session.remove()  # the test's session would otherwise serve cached rows
        body = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
        if body["status"] in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {body.get('status')}, wanted {wanted}")


@pytest.fixture
def consumer(committed_db, catalogue):
    user = UserFactory()
    committed_db.commit()
    return user


def submit(client, headers, **body):
    body.setdefault("device", "aer-simulator")
    body.setdefault("shots", 2000)
    resp = client.post("/api/v1/jobs", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_ghz_qasm3_and_noisy_device_through_the_worker(client, api_headers, consumer, start_worker):
    headers = api_headers(consumer)
    ghz = submit(client, headers, program={"source": GHZ})
    assert ghz["status"] == "QUEUED" and ghz["queue_position"] >= 1
    qasm3 = submit(
        client,
        headers,
        program={"format": "qasm3", "source": QASM3},
        inputs={"theta": 1.5707963267948966, "reps": 2},
        shots=500,
    )
    noisy = submit(client, headers, program={"source": GHZ}, device="falcon-27-noisy")
    start_worker()

    wait_status(client, headers, ghz["id"], TERMINAL)
    result = client.get(f"/api/v1/jobs/{ghz['id']}/result", headers=headers).get_json()
    counts = result["counts"]
    assert set(counts) == {"000", "111"}
    assert 0.4 < counts["000"] / 2000 < 0.6
    assert result["metadata"]["transpile_cached"] is False
    assert result["metadata"]["timings_ms"]["run_ms"] > 0

    wait_status(client, headers, qasm3["id"], TERMINAL)
    counts = client.get(f"/api/v1/jobs/{qasm3['id']}/result", headers=headers).get_json()
    assert counts["counts"].get("1", 0) == 500  # rx(pi) always flips

    done = wait_status(client, headers, noisy["id"], TERMINAL)
    assert done["status"] == "COMPLETED" and done["actual_cost"] == "0.30"
    noisy_result = client.get(f"/api/v1/jobs/{noisy['id']}/result", headers=headers).get_json()
    wrong = sum(v for k, v in noisy_result["counts"].items() if k not in ("000", "111"))
    assert 0 < wrong < 600  # noise shows, but GHZ still dominates
    assert noisy_result["metadata"]["device_like"] is True
    assert set(noisy_result["metadata"]["transpiled"]["gate_counts"]) <= {
        "cx", "rz", "sx", "x", "measure", "barrier", "id",
    }  # fmt: skip

    db.session.remove()
    usage = db.session.execute(db.select(UsageAnalytics)).scalars().all()
    assert len(usage) == 1 and usage[0].request_count == 3 and usage[0].endpoint == "jobs"
    assert usage[0].compute_time_seconds > 0
    titles = db.session.execute(db.select(Notification.title)).scalars().all()
    assert titles == ["Job completed"] * 3


def test_blocking_mode_waits_for_the_result(client, api_headers, consumer, start_worker):
    start_worker()
    job = submit(client, api_headers(consumer), program={"source": GHZ}, run_mode="BLOCKING")
    assert job["status"] == "COMPLETED" and job["finished_at"]


def test_cancel_queued_then_running_job(client, api_headers, consumer, start_worker):
    headers = api_headers(consumer)
    queued = submit(client, headers, program={"source": GHZ})
    assert client.delete(f"/api/v1/jobs/{queued['id']}", headers=headers).status_code == 200
    slow = submit(client, headers, program={"source": SLOW}, shots=10)
    start_worker()
    wait_status(client, headers, slow["id"], {"RUNNING"})
    cancelled = client.delete(f"/api/v1/jobs/{slow['id']}", headers=headers).get_json()
    assert cancelled["status"] == "CANCELLED"
    # The next job runs once the worker has returned from the cancelled one.
    after = submit(client, headers, program={"source": GHZ}, shots=10)
    wait_status(client, headers, after["id"], TERMINAL)
    db.session.remove()
    for job_id in (queued["id"], slow["id"]):
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.CANCELLED and job.result is None
        assert job.actual_cost is None
    assert db.session.get(Job, queued["id"]).started_at is None


def test_killed_worker_job_fails_via_reconciler(client, api_headers, consumer, start_worker):
    headers = api_headers(consumer)
    slow = submit(client, headers, program={"source": SLOW}, shots=10)
    worker = start_worker()
    wait_status(client, headers, slow["id"], {"RUNNING"})
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    db.session.remove()
    report = reconciler.reconcile()
    db.session.remove()
    assert report.failed_dead == 1
    body = client.get(f"/api/v1/jobs/{slow['id']}", headers=headers).get_json()
    assert body["status"] == "FAILED" and "stopped before it finished" in body["failure_reason"]


def test_reconciler_requeues_lost_jobs_and_times_out(client, api_headers, consumer, app):
    headers = api_headers(consumer)
    lost = submit(client, headers, program={"source": GHZ})
    Redis.from_url(redis_url()).flushdb()  # the queue forgets it
    assert reconciler.reconcile().requeued == 0  # still inside the grace period
    later = utcnow() + timedelta(seconds=reconciler.QUEUE_GRACE_SECONDS + 1)
    report = reconciler.reconcile(later)
    assert report.requeued == 1
    assert queue.in_redis(lost["id"])
    # A job running past the limit fails as timed out even if its worker is alive.
    db.session.remove()
    job = db.session.get(Job, lost["id"])
    job.status, job.started_at = JobStatus.RUNNING, utcnow()
    db.session.commit()
    beyond = utcnow() + timedelta(seconds=app.config["JOB_TIMEOUT_SECONDS"] + 1)
    assert reconciler.reconcile(beyond).failed_timeout == 1
    body = client.get(f"/api/v1/jobs/{lost['id']}", headers=headers).get_json()
    assert body["status"] == "FAILED" and "limit" in body["failure_reason"]
