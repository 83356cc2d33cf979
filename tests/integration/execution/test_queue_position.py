"""A queued job's place in the queue: counted from the partial index of queued jobs."""

from __future__ import annotations

from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution import queue
from portal.execution.models import JobStatus
from tests.factories.execution import JobFactory


def test_place_counts_only_queued_jobs_ahead():
    start = utcnow() - timedelta(minutes=10)
    first, second, third = (JobFactory(queued_at=start + timedelta(minutes=i)) for i in range(3))
    JobFactory(queued_at=start - timedelta(minutes=1), status=JobStatus.RUNNING)
    JobFactory(queued_at=start - timedelta(minutes=2), status=JobStatus.COMPLETED)
    db.session.flush()
    assert [queue.queue_position(j) for j in (first, second, third)] == [1, 2, 3]
    second.status = JobStatus.RUNNING
    db.session.flush()
    assert queue.queue_position(second) is None
    assert queue.queue_position(third) == 2


def test_place_is_read_from_the_queued_jobs_index():
    job = JobFactory()
    db.session.flush()
    compiled = queue._queued_ahead().compile(db.engine)
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    params = {**compiled.params, "queued_at": job.queued_at}
    plan = "\n".join(r[0] for r in connection.exec_driver_sql(f"EXPLAIN {compiled}", params))
    assert "ix_jobs_queued_at_queued" in plan
