"""Usage counters under concurrency, notifications, and the execution pages."""

from __future__ import annotations

import threading
import uuid

from portal.analytics.models import UsageAnalytics
from portal.analytics.usage import record_usage
from portal.core.extensions import db
from portal.execution.models import JobStatus
from portal.execution.runner import run_job
from portal.notifications.models import Notification, NotificationType
from portal.notifications.services import notify
from tests.factories.accounts import UserFactory
from tests.factories.execution import BELL_QASM2, JobFactory


def test_usage_upsert_is_atomic_under_concurrency(app, committed_db):
    user = UserFactory()
    committed_db.commit()
    user_id = user.id

    def hit():
        with app.app_context():
            for _ in range(10):
                record_usage(user_id, "jobs", compute_seconds=0.5)
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    rows = db.session.execute(db.select(UsageAnalytics)).scalars().all()
    assert len(rows) == 1
    assert rows[0].request_count == 40 and rows[0].compute_time_seconds == 20.0


def test_notify_writes_a_row(db_session):
    user = UserFactory()
    note = notify(user.id, "Hello", "World", type=NotificationType.JOB, link="/jobs")
    assert db_session.get(Notification, note.id).type is NotificationType.JOB


def test_pages_list_submit_and_show_jobs(client, login_as, committed_db, catalogue):
    user = UserFactory()
    committed_db.commit()  # the worker's connection must see the user's job
    login_as(user)
    page = client.get("/jobs")
    assert b"No jobs yet" in page.data and b"Jobs run on the queue" in page.data
    form = client.get("/jobs/new")
    assert b"OpenQASM program" in form.data
    est = client.post("/jobs/estimate", data={"device": "aer-simulator", "shots": "1000",
                                              "source": BELL_QASM2})  # fmt: skip
    assert b"$0.02" in est.data and b"2 qubits" in est.data
    resp = client.post("/jobs/new", data={"source": BELL_QASM2, "device": "aer-simulator",
                                          "shots": "100", "name": "bell"})  # fmt: skip
    assert resp.status_code == 302
    job_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert run_job(job_id, worker=True) is JobStatus.COMPLETED  # what the worker does
    detail = client.get(resp.headers["Location"])
    assert b"COMPLETED" in detail.data and b"<svg" in detail.data and b"q_0" in detail.data
    fragment = client.get(resp.headers["Location"], headers={"HX-Request": "true"})
    assert b'id="job-status"' in fragment.data and b"<html" not in fragment.data
    download = client.get(resp.headers["Location"] + "/result.json")
    assert download.json["counts"] and "attachment" in download.headers["Content-Disposition"]
    rows = client.get("/jobs", headers={"HX-Request": "true"})
    assert b"bell" in rows.data and b"<html" not in rows.data
    error = client.post("/jobs/new", data={"source": "OPENQASM 2.0;\nqreg q[1];\nh q[0]\n",
                                           "device": "aer-simulator", "shots": "10"})  # fmt: skip
    assert b"line 3, column 1" in error.data
    bad = client.post("/jobs/estimate", data={"device": "aer-simulator", "shots": "x"})
    assert b"whole number" in bad.data
    assert client.get("/devices").status_code == 200
    device = client.get("/devices/falcon-27-noisy")
    assert device.data.count(b"<circle") == 27
    assert client.get("/devices/ion-trap-11-noisy").data.count(b"<circle") == 11


def test_cancel_page_and_ownership(client, login_as):
    job = JobFactory()
    other = UserFactory()
    login_as(other)
    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.post(f"/jobs/{job.id}/cancel").status_code == 404
    assert client.get(f"/jobs/{uuid.uuid4()}/result.json").status_code == 404
    login_as(job.user)
    resp = client.post(f"/jobs/{job.id}/cancel", headers={"HX-Request": "true"})
    assert b"CANCELLED" in resp.data
    assert job.status is JobStatus.CANCELLED


def test_status_polls_never_redraw_the_circuit(client, login_as, monkeypatch):
    from portal.execution import views

    job = JobFactory(status=JobStatus.COMPLETED)
    login_as(job.user)
    views._drawing_of.cache.clear()
    page = client.get(f"/jobs/{job.id}")
    assert b'data-testid="circuit-drawing"' in page.data
    assert len(views._drawing_of.cache) == 1

    def parse_again(*args):
        raise AssertionError("the same program was parsed and drawn twice")

    with monkeypatch.context() as patched:
        patched.setattr(views, "parse_program", parse_again)
        again = client.get(f"/jobs/{job.id}")  # the same program: drawn once, shown again
    assert b'data-testid="circuit-drawing"' in again.data

    def refuse(*args):
        raise AssertionError("a status poll drew the circuit")

    monkeypatch.setattr(views, "_drawing_of", refuse)
    poll = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and b'id="job-status"' in poll.data


def test_a_job_page_loads_the_job_and_its_result_in_one_query(client, login_as, statements):
    from portal.execution.models import JobResult

    job = JobFactory(status=JobStatus.COMPLETED)
    job.result = JobResult(status="COMPLETED", counts={"00": 51, "11": 49}, execution_time=0.2)
    login_as(job.user)
    path = f"/jobs/{job.id}"
    statements.clear()
    page = client.get(path)
    assert page.status_code == 200 and b"51" in page.data
    assert not [s for s in statements if "FROM job_results" in s and "FROM jobs" not in s]
