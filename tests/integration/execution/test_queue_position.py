"""A queued job's place in the queue and its wait estimate's run times, each read from a
partial index (of queued jobs; of completed jobs by device and finish time)."""

from __future__ import annotations

from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution import queue
from portal.execution.models import JobStatus
from tests.factories.execution import HardwareFactory, JobFactory


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


def _plan(statement, **params) -> str:
    """The plan of ``statement`` with sequential scans priced out: which index it reads."""
    compiled = statement.compile(db.engine)
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", {**compiled.params, **params})
    return "\n".join(r[0] for r in rows)


def test_place_is_read_from_the_queued_jobs_index():
    job = JobFactory()
    db.session.flush()
    assert "ix_jobs_queued_at_queued" in _plan(queue._queued_ahead(), queued_at=job.queued_at)


def _completed(device, seconds: float, ago: float) -> None:
    finished = utcnow() - timedelta(seconds=ago)
    JobFactory(
        hardware=device,
        status=JobStatus.COMPLETED,
        started_at=finished - timedelta(seconds=seconds),
        finished_at=finished,
    )


def test_the_wait_estimate_takes_the_latest_runs_of_the_device():
    device, other = HardwareFactory(), HardwareFactory()
    for i in range(queue.RECENT_RUNS):
        _completed(device, 2.0, ago=100 + i)  # the latest 20: 2 s each
    for i in range(5):
        _completed(device, 50.0, ago=1000 + i)  # older: out of the window
    _completed(other, 30.0, ago=1)  # another device's run does not count
    JobFactory(hardware=device, status=JobStatus.FAILED, started_at=utcnow(), finished_at=utcnow())
    db.session.flush()
    assert queue.recent_run_seconds(device.name) == 2.0


def test_a_device_without_runs_takes_the_catalogue_latest_and_none_without_any():
    fresh = HardwareFactory()
    db.session.flush()
    assert queue.recent_run_seconds(fresh.name) is None  # no history anywhere
    busy = HardwareFactory()
    for i in range(queue.RECENT_RUNS):
        _completed(busy, 3.0, ago=10 + i)
    _completed(busy, 90.0, ago=5000)  # older than the latest 20 of the catalogue
    db.session.flush()
    assert queue.recent_run_seconds(fresh.name) == 3.0
    assert queue.recent_run_seconds(None) == 3.0


def test_the_latest_runs_are_read_from_the_completed_jobs_index():
    JobFactory(status=JobStatus.COMPLETED, started_at=utcnow(), finished_at=utcnow())
    db.session.flush()
    index = "ix_jobs_device_id_finished_at_completed"
    assert index in _plan(queue._device_runs(), device="aer-simulator")
    assert index in _plan(queue._catalogue_runs())
