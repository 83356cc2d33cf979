"""What a worker's finish writes (issue 23: the completion is one statement, no ORM entity of
the job): the job's terminal state and charge, its result, the owner's notification and opt-in
e-mail; and what it must not write when the job was cancelled or lost its device meanwhile."""

from __future__ import annotations

import sqlalchemy as sa

from portal.core.extensions import db
from portal.execution import runner
from portal.execution.models import Job, JobResult, JobStatus
from portal.execution.runner import run_job
from portal.notifications.models import Notification, NotificationType
from tests.factories.accounts import UserFactory
from tests.factories.execution import JobFactory


def _meanwhile(monkeypatch, sql: str, job_id) -> None:
    """Run ``sql`` (on ``job_id``) from another session while the job simulates."""
    simulate = runner.run_claimed

    def run_claimed(claimed):
        outcome = simulate(claimed)
        with db.engine.begin() as conn:
            conn.execute(sa.text(sql), {"id": job_id})
        return outcome

    monkeypatch.setattr(runner, "run_claimed", run_claimed)


def test_a_completed_job_its_result_notification_and_opt_in_mail(committed_db, catalogue, outbox):
    user = UserFactory(preferences={"email_events": ["job.completed"]})
    email, user_id = user.email, user.id
    device = catalogue["aer-simulator"]
    job = JobFactory(user=user, hardware=device, device_id=device.name, name="bell", shots=256)
    key = job.id
    committed_db.commit()
    db.session.remove()  # the owner is not in the session, as in a worker
    assert run_job(key, worker=True) is JobStatus.COMPLETED
    db.session.remove()
    job = db.session.get(Job, key)
    assert job.status is JobStatus.COMPLETED and job.finished_at is not None
    assert job.updated_at >= job.finished_at >= job.started_at
    assert job.actual_cost is not None
    result = db.session.execute(sa.select(JobResult).filter_by(job_id=key)).scalar_one()
    assert result.status == "COMPLETED" and result.error is None
    assert sum(result.counts.values()) == 256 and result.execution_time > 0
    data = result.result_data
    assert data["backend"] == "aer-simulator" and data["timings_ms"]["worker_total_ms"] > 0
    (note,) = db.session.execute(sa.select(Notification)).scalars()
    assert (note.user_id, note.title, note.type, note.read, note.link) == (
        user_id,
        "Job completed",
        NotificationType.JOB,
        False,
        f"/jobs/{key}",
    )
    assert note.message == "bell finished on aer-simulator (256 shots)."
    (mail,) = outbox()  # sent once the finish committed
    assert mail.to == email and mail.subject == "Quantum Hub: Job completed"
    assert "bell finished on aer-simulator" in mail.text and f"/jobs/{key}" in mail.text


def test_a_job_cancelled_while_it_ran_keeps_its_state_and_gets_no_result(
    committed_db, catalogue, outbox, monkeypatch
):
    user = UserFactory(preferences={"email_events": ["job.completed"]})
    key = JobFactory(user=user, hardware=catalogue["aer-simulator"]).id
    committed_db.commit()
    _meanwhile(monkeypatch, "UPDATE jobs SET status = 'CANCELLED' WHERE id = :id", key)
    assert run_job(key, worker=True) is JobStatus.CANCELLED
    db.session.remove()
    assert db.session.get(Job, key).status is JobStatus.CANCELLED
    assert db.session.execute(sa.select(sa.func.count()).select_from(JobResult)).scalar() == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(Notification)).scalar() == 0
    assert outbox() == []


def test_a_job_whose_device_was_removed_while_it_ran_fails(committed_db, catalogue, monkeypatch):
    user = UserFactory()
    key = JobFactory(user=user, hardware=catalogue["aer-simulator"]).id
    committed_db.commit()
    _meanwhile(monkeypatch, "UPDATE jobs SET hardware_id = NULL WHERE id = :id", key)
    assert run_job(key, worker=True) is JobStatus.FAILED
    db.session.remove()
    job = db.session.get(Job, key)
    assert job.failure_reason == "The device was removed while the job ran."
    assert job.result.status == "FAILED" and job.result.error == job.failure_reason
    (note,) = db.session.execute(sa.select(Notification)).scalars()
    assert note.title == "Job failed" and job.failure_reason in note.message
