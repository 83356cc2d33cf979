"""Issue 23: the job status poll and the job rows poll answer 304 to a browser that
revalidates (If-None-Match) while nothing they show has changed, and the fresh content, with
a new ETag, once something has. Each request is its own; changes are read back later."""

from __future__ import annotations

from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.models import Job, JobStatus
from tests.factories.accounts import UserFactory
from tests.factories.execution import JobFactory

HX = {"HX-Request": "true", "HX-Target": "job-status"}
ROWS = {"HX-Request": "true", "HX-Target": "job-rows"}


def _revalidate(client, path, etag, headers):
    return client.get(path, headers={**headers, "If-None-Match": etag})


def test_status_poll_is_304_until_the_job_changes(client, login_as):
    job = JobFactory()
    db.session.commit()
    login_as(job.user)
    first = client.get(f"/jobs/{job.id}", headers=HX)
    assert first.status_code == 200 and b'id="job-status"' in first.data
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert {"Cookie", "HX-Request", "HX-Target"} <= set(first.headers["Vary"].split(", "))

    again = _revalidate(client, f"/jobs/{job.id}", etag, HX)
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag

    assert client.post(f"/jobs/{job.id}/cancel", headers=HX).status_code == 200
    changed = _revalidate(client, f"/jobs/{job.id}", etag, HX)
    assert changed.status_code == 200 and b"CANCELLED" in changed.data
    assert changed.headers["ETag"] != etag


def test_status_poll_is_fresh_when_the_queue_ahead_moves(client, login_as):
    start = utcnow() - timedelta(minutes=5)
    ahead = JobFactory(queued_at=start)
    job = JobFactory(queued_at=start + timedelta(minutes=1))
    db.session.commit()
    login_as(job.user)
    first = client.get(f"/jobs/{job.id}", headers=HX)
    assert b"position 2 in the queue" in first.data

    ahead.status = JobStatus.RUNNING  # a worker took the job ahead: this one's row is as was
    db.session.commit()
    moved = _revalidate(client, f"/jobs/{job.id}", first.headers["ETag"], HX)
    assert moved.status_code == 200 and b"position 1 in the queue" in moved.data


def test_a_304_never_answers_another_user(client, login_as):
    job = JobFactory()
    stranger = UserFactory()
    db.session.commit()
    login_as(job.user)
    etag = client.get(f"/jobs/{job.id}", headers=HX).headers["ETag"]
    login_as(stranger)
    assert _revalidate(client, f"/jobs/{job.id}", etag, HX).status_code == 404


def test_full_job_page_is_not_conditional(client, login_as):
    """The full page carries the navigation, flashed messages and the unread badge, which
    the ETag does not cover: it is always rendered."""
    job = JobFactory()
    db.session.commit()
    login_as(job.user)
    etag = client.get(f"/jobs/{job.id}", headers=HX).headers["ETag"]
    page = client.get(f"/jobs/{job.id}", headers={"If-None-Match": etag})
    assert page.status_code == 200 and "ETag" not in page.headers
    assert b"<nav" in page.data


def test_job_rows_poll_is_304_until_a_job_is_added_or_changed(client, login_as):
    owner = UserFactory()
    JobFactory(user=owner, name="first-job")
    db.session.commit()
    login_as(owner)
    rows = client.get("/jobs", headers=ROWS)
    assert rows.status_code == 200 and b"first-job" in rows.data
    etag = rows.headers["ETag"]
    assert _revalidate(client, "/jobs", etag, ROWS).status_code == 304
    # Another page of the same list, or other filters, is another address and another tag.
    assert _revalidate(client, "/jobs?status=QUEUED", etag, ROWS).status_code == 200

    JobFactory(user=owner, name="second-job")
    db.session.commit()
    added = _revalidate(client, "/jobs", etag, ROWS)
    assert added.status_code == 200 and b"second-job" in added.data
    etag = added.headers["ETag"]

    second = db.session.query(Job).filter_by(name="second-job").one()
    tagged = client.post(f"/jobs/{second.id}/tags", data={"tags": "paper"}, headers=HX)
    assert tagged.status_code == 200
    changed = _revalidate(client, "/jobs", etag, ROWS)
    assert changed.status_code == 200 and b">paper</a>" in changed.data
    assert _revalidate(client, "/jobs", changed.headers["ETag"], ROWS).status_code == 304


def test_job_list_page_is_304_until_jobs_or_the_badge_change(client, login_as):
    from portal.notifications.models import Notification, NotificationType

    owner = UserFactory()
    JobFactory(user=owner, name="listed-job")
    db.session.commit()
    login_as(owner)
    page = client.get("/jobs")
    assert page.status_code == 200 and b"listed-job" in page.data
    etag = page.headers["ETag"]
    assert _revalidate(client, "/jobs", etag, {}).status_code == 304
    # The fragment at the same address has a tag of its own.
    assert _revalidate(client, "/jobs", etag, ROWS).status_code == 200

    db.session.add(
        Notification(user_id=owner.id, type=NotificationType.INFO, title="Hi", message="New")
    )
    db.session.commit()
    badge = _revalidate(client, "/jobs", etag, {})
    assert badge.status_code == 200 and badge.headers["ETag"] != etag


def test_job_list_page_with_a_flashed_message_is_always_rendered(client, login_as):
    owner = UserFactory()
    queued = JobFactory(user=owner)
    db.session.commit()
    login_as(owner)
    etag = client.get("/jobs").headers["ETag"]
    done = client.post("/jobs/cancel", data={"ids": [str(queued.id)], "next": "/jobs"})
    assert done.status_code == 302
    shown = _revalidate(client, "/jobs", etag, {})
    assert shown.status_code == 200 and b"flash" in shown.data
    assert "ETag" not in shown.headers


def test_a_status_poll_304_reads_the_job_in_one_light_statement(
    client, login_as, statements, app, monkeypatch
):
    monkeypatch.setitem(app.config, "WAIT_ESTIMATE_CACHE_SECONDS", 5)
    JobFactory(status=JobStatus.COMPLETED, started_at=utcnow() - timedelta(seconds=9),
               finished_at=utcnow() - timedelta(seconds=5))  # fmt: skip
    job = JobFactory(queued_at=utcnow())
    db.session.commit()
    login_as(job.user)
    path = f"/jobs/{job.id}"
    first = client.get(path, headers=HX)
    assert b"position 1 in the queue" in first.data and b"about 4" in first.data

    statements.clear()
    again = _revalidate(client, path, first.headers["ETag"], HX)
    assert again.status_code == 304
    reads = [s for s in statements if s.startswith("SELECT")]
    # The signed-in user (with the browser session row), then the job's ETag inputs with its
    # place in the queue: not the job's whole row nor its result; the median run time behind
    # the wait estimate is this process's from the first poll.
    assert len(reads) == 2, reads
    assert "job_results" not in reads[1] and "program_source" not in reads[1]
    assert "percentile_cont" not in " ".join(reads)
