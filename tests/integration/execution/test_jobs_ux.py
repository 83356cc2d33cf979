"""Issue 22 (items 10-13): finding jobs, tags, bulk cancel, results to take away, progress."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.core.db import utcnow
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.execution import jobs, queue, runner, submission
from portal.execution.models import Job, JobStatus
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version
from tests.factories.execution import HardwareFactory, JobFactory


@pytest.fixture
def owner():
    return UserFactory()


def names(jobs):
    return sorted(j.name for j in jobs)


# -- item 10: finding jobs ------------------------------------------------------------------


def test_list_jobs_filters_by_tag_state_device_app_dates_and_text(owner):
    other_device = HardwareFactory(name="ux-other-sim")
    app = QuantumAppFactory(developer=owner)
    version = add_version(app)
    JobFactory(user=owner, name="alpha", tags=["paper"])
    JobFactory(user=owner, name="beta", status=JobStatus.COMPLETED, hardware=other_device)
    JobFactory(user=owner, name="gamma", app_version_id=version.id)
    old = JobFactory(user=owner, name="old")
    old.created_at = utcnow() - timedelta(days=10)
    JobFactory(name="stranger", tags=["paper"])  # another user's: never listed
    db.session.flush()

    def listed(**filters):
        return names(jobs.list_jobs(owner, **filters).items)

    assert listed() == ["alpha", "beta", "gamma", "old"]
    assert listed(tag="paper") == ["alpha"]
    assert listed(status=JobStatus.COMPLETED) == ["beta"]
    assert listed(device="ux-other-sim") == ["beta"]
    assert listed(app_id=app.id) == ["gamma"]
    start, end = jobs.day_range(
        (utcnow() - timedelta(days=11)).date(), (utcnow() - timedelta(days=9)).date()
    )
    assert listed(date_from=start, date_to=end) == ["old"]
    assert listed(q="ALP") == ["alpha"]
    assert listed(q="pap") == ["alpha"]  # a tag's text matches too
    assert listed(q=str(old.id)) == ["old"]
    assert listed(q="100%_") == []  # LIKE wildcards are literal
    assert jobs.job_tags(owner) == ["paper"]
    assert "ux-other-sim" in jobs.job_devices(owner)
    assert jobs.job_apps(owner) == [(app.id, app.name)]


def test_api_lists_jobs_with_the_filters(client, api_headers, owner):
    JobFactory(user=owner, name="alpha", tags=["paper"])
    JobFactory(user=owner, name="beta")
    headers = api_headers(owner)
    today = utcnow().date().isoformat()
    found = client.get(f"/api/v1/jobs?tag=paper&q=alp&from={today}&to={today}", headers=headers)
    assert found.status_code == 200 and [j["name"] for j in found.json["items"]] == ["alpha"]
    assert client.get("/api/v1/jobs?q=zzz", headers=headers).json["total"] == 0
    assert client.get("/api/v1/jobs?from=nope", headers=headers).status_code == 422


def test_page_finds_jobs_and_keeps_filters_in_the_pager(client, login_as, owner):
    JobFactory(user=owner, name="alpha", tags=["paper"])
    JobFactory(user=owner, name="beta")
    login_as(owner)
    page = client.get("/jobs?tag=paper")
    assert page.status_code == 200
    assert b"alpha" in page.data and b">beta<" not in page.data
    assert b'name="q"' in page.data and b'type="date"' in page.data
    none = client.get("/jobs?q=nothing-like-this")
    assert b"No jobs match these filters" in none.data


def test_tags_are_editable_through_the_api(client, api_headers, owner):
    job = JobFactory(user=owner)
    headers = api_headers(owner)
    resp = client.patch(f"/api/v1/jobs/{job.id}", json={"tags": [" b ", "a", "a"]}, headers=headers)
    assert resp.status_code == 200 and resp.json["tags"] == ["a", "b"]
    assert db.session.get(Job, job.id).tags == ["a", "b"]
    too_many = {"tags": [f"t{i}" for i in range(11)]}
    assert client.patch(f"/api/v1/jobs/{job.id}", json=too_many, headers=headers).status_code == 422
    stranger = api_headers(UserFactory())
    assert (
        client.patch(f"/api/v1/jobs/{job.id}", json={"tags": []}, headers=stranger).status_code
        == 404
    )


def test_tags_inline_form_saves_or_answers_422(client, login_as, owner):
    job = JobFactory(user=owner)
    login_as(owner)
    assert b'data-testid="job-tags"' in client.get(f"/jobs/{job.id}").data
    hx = {"HX-Request": "true"}
    saved = client.post(f"/jobs/{job.id}/tags", data={"tags": "paper, bell"}, headers=hx)
    assert saved.status_code == 200 and b"paper" in saved.data
    assert db.session.get(Job, job.id).tags == ["bell", "paper"]
    bad = client.post(f"/jobs/{job.id}/tags", data={"tags": "x" * 51}, headers=hx)
    assert bad.status_code == 422 and b"at most 50 characters" in bad.data
    db.session.expire_all()
    assert db.session.get(Job, job.id).tags == ["bell", "paper"]  # the refusal wrote nothing


def test_cancel_jobs_reuses_cancel_job_rules(owner):
    queued = JobFactory(user=owner)
    done = JobFactory(user=owner, status=JobStatus.COMPLETED)
    theirs = JobFactory()
    result = submission.cancel_jobs(owner, [queued.id, done.id, theirs.id, queued.id])
    assert [j.id for j in result.cancelled] == [queued.id]
    assert set(result.refused) == {str(done.id), str(theirs.id)}
    assert theirs.status is JobStatus.QUEUED
    with pytest.raises(ValidationFailed):
        submission.cancel_jobs(owner, [])
    with pytest.raises(NotFound):
        submission.set_tags(owner, theirs.id, ["x"])


def test_bulk_cancel_page(client, login_as, owner):
    first, second = JobFactory(user=owner), JobFactory(user=owner)
    kept = JobFactory(user=owner)
    login_as(owner)
    page = client.get("/jobs")
    assert b'data-testid="bulk-cancel"' in page.data and b'name="ids"' in page.data
    resp = client.post(
        "/jobs/cancel", data={"ids": [str(first.id), str(second.id)], "next": "//evil.example"}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs")
    db.session.expire_all()
    statuses = {j.id: db.session.get(Job, j.id).status for j in (first, second, kept)}
    assert statuses == {
        first.id: JobStatus.CANCELLED,
        second.id: JobStatus.CANCELLED,
        kept.id: JobStatus.QUEUED,
    }
    assert b"Cancelled 2 job(s)" in client.get("/jobs").data
    nothing = client.post("/jobs/cancel", data={})
    assert nothing.status_code == 302
    assert b"Choose at least one job" in client.get("/jobs").data


# -- item 11: results to take away ------------------------------------------------------------


def test_result_page_shows_probabilities_transpiled_drawing_and_csv(
    client, login_as, api_headers, committed_db, catalogue
):
    from tests.factories.execution import BELL_QASM2

    user = UserFactory()
    committed_db.commit()
    body = {"device": "generic-5-noisy", "shots": 200, "program": {"source": BELL_QASM2}}
    job_id = client.post("/api/v1/jobs", json=body, headers=api_headers(user)).json["id"]
    assert runner.run_job(job_id, worker=True) is JobStatus.COMPLETED
    login_as(user)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'data-testid="outcomes"' in page and 'data-testid="probability"' in page
    assert 'data-testid="transpiled-drawing"' in page and "Transpiled for generic-5-noisy" in page
    csv = client.get(f"/jobs/{job_id}/result.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "outcome,count,probability"
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 200
    assert abs(sum(float(line.split(",")[2]) for line in lines[1:]) - 1) < 1e-3
    raw = client.get(f"/jobs/{job_id}/result.json")
    assert raw.status_code == 200 and sum(raw.json["counts"].values()) == 200
    login_as(UserFactory())
    assert client.get(f"/jobs/{job_id}/result.csv").status_code == 404


def test_plain_simulator_job_has_no_separate_transpiled_drawing(client, login_as, owner):
    job = JobFactory(user=owner, status=JobStatus.COMPLETED)
    login_as(owner)
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'data-testid="transpiled-drawing"' not in page
    csv = client.get(f"/jobs/{job.id}/result.csv").get_data(as_text=True)
    assert csv == "outcome,count,probability\n"


# -- item 13: progress on long work ----------------------------------------------------------


def test_wait_estimate_from_recent_run_times(client, login_as, api_headers, owner):
    device = HardwareFactory(name="ux-wait-sim")
    now = utcnow()
    for seconds in (2, 4, 6):  # median 4 s
        JobFactory(
            user=owner,
            hardware=device,
            status=JobStatus.COMPLETED,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    ahead = JobFactory(user=owner, hardware=device, queued_at=now - timedelta(seconds=5))
    queued = JobFactory(user=owner, hardware=device, queued_at=now)
    db.session.flush()
    assert queue.recent_run_seconds("ux-wait-sim") == pytest.approx(4.0)
    position = queue.queue_position(queued)
    assert position >= 2 and queue.queue_position(ahead) < position
    workers = queue.workers_seen()
    assert queue.wait_estimate(queued) == pytest.approx(4.0 * position / workers)
    assert queue.wait_estimate(JobFactory(user=owner, status=JobStatus.RUNNING)) is None
    login_as(owner)
    page = client.get(f"/jobs/{queued.id}").get_data(as_text=True)
    assert 'data-testid="queue-position"' in page and 'data-testid="wait-estimate"' in page
    api = client.get(f"/api/v1/jobs/{queued.id}", headers=api_headers(owner)).json
    assert api["estimated_wait_seconds"] == pytest.approx(4.0 * api["queue_position"] / workers)


def test_running_job_shows_elapsed_time_and_the_form_submits_once(client, login_as, owner):
    job = JobFactory(
        user=owner, status=JobStatus.RUNNING, started_at=utcnow() - timedelta(seconds=30)
    )
    login_as(owner)
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "data-elapsed-since=" in page and "js/execution-jobs.js" in page
    assert "<script>" not in page  # CSP script-src 'self': no inline scripts
    form = client.get("/jobs/new").get_data(as_text=True)
    assert "data-submit-once" in form and "js/execution-jobs.js" in form
