from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.models import Job, JobStatus
from tests.factories.accounts import UserFactory


def _job(user, status, *, age=timedelta(0), ran_for=None):
    now = utcnow()
    job = Job(user_id=user.id, platform="AER", status=status, shots=10)
    db.session.add(job)
    db.session.flush()
    job.updated_at = now - age
    if ran_for is not None:
        job.started_at, job.finished_at = now - ran_for, now
    db.session.flush()
    return job


def _metric_lines(client, name):
    text = client.get("/metrics").get_data(as_text=True)
    return [line for line in text.splitlines() if line.startswith(name)]


def test_jobs_by_state_stuck_jobs_and_recent_durations(client):
    user = UserFactory()
    _job(user, JobStatus.COMPLETED, ran_for=timedelta(seconds=2))
    _job(user, JobStatus.COMPLETED, ran_for=timedelta(seconds=4))
    _job(user, JobStatus.QUEUED)
    _job(user, JobStatus.RUNNING, age=timedelta(hours=1))
    lines = _metric_lines(client, "qh_jobs")
    assert 'qh_jobs{status="COMPLETED"} 2.0' in lines
    assert 'qh_jobs{status="QUEUED"} 1.0' in lines
    assert 'qh_jobs{status="FAILED"} 0.0' in lines
    assert "qh_jobs_stuck 1.0" in lines
    durations = _metric_lines(client, "qh_job_duration_seconds_recent")
    assert 'qh_job_duration_seconds_recent{quantile="0.99"} 4.0' in durations
    assert _metric_lines(client, "qh_queue_depth") == ["qh_queue_depth 0.0"]
