"""The API's job list builds its items by hand (``job_item``): exactly JobSchema's dump."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal.execution.models import Job, JobRunMode, JobStatus
from portal.execution.schemas import JobSchema, job_item

WHEN = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


def _job(**fields) -> Job:
    job = Job(
        id=uuid.uuid4(),
        platform="AER",
        device_id="aer-simulator",
        status=JobStatus.QUEUED,
        run_mode=JobRunMode.ASYNC,
        shots=1024,
        attempts=0,
        memory=False,
        created_at=WHEN,
        **fields,
    )
    # What the API's _present sets before dumping.
    job.queue_position = None
    job.estimated_wait_seconds = None
    job.result_url = f"/api/v1/jobs/{job.id}/result"
    job.app_label = None
    job.shown_source = None
    return job


def _bare() -> Job:
    return _job()


def _finished() -> Job:
    job = _job(
        name="bell run",
        hardware_id=uuid.uuid4(),
        subscription_id=uuid.uuid4(),
        app_version_id=uuid.uuid4(),
        program_format="qasm2",
        tags=["bell", "paper-2"],
        inputs={"theta": 0.5, "n": 3},
        notification_email="ada@example.com",
        webhook_url="https://example.com/hook",
        estimated_cost=Decimal("0.0200"),
        actual_cost=Decimal("1E-5"),
        failure_reason=None,
        queued_at=WHEN,
        started_at=WHEN.replace(second=16),
        finished_at=WHEN.replace(second=20, microsecond=0),
        primitive="sampler",
        seed_simulator=42,
        noise_model_version="fake-v1",
    )
    job.status = JobStatus.COMPLETED
    job.run_mode = JobRunMode.BLOCKING
    job.memory = True
    job.attempts = 2
    job.app_label = "app Bell, version 1.0.0"
    job.shown_source = "OPENQASM 2.0;"
    return job


def _queued() -> Job:
    job = _job(tags=[], inputs={}, estimated_cost=Decimal("3"))
    job.queue_position = 4
    job.estimated_wait_seconds = 12.5
    return job


def _failed() -> Job:
    job = _job(failure_reason="boom", tags=None, actual_cost=Decimal("0.000000"))
    job.status = JobStatus.FAILED
    job.estimated_wait_seconds = 3  # an int from the estimate still dumps as a float
    return job


@pytest.mark.parametrize("make", [_bare, _finished, _queued, _failed])
def test_job_item_is_exactly_the_schema_dump(make):
    job = make()
    expected = JobSchema().dump(job)
    built = job_item(job)
    assert built == expected
    assert list(built) == list(expected)  # the same keys, in the same order
    # ...and the same JSON, types included (3.0 and not 3, "0.02" and not 0.02).
    assert json.dumps(built, sort_keys=True) == json.dumps(expected, sort_keys=True)
