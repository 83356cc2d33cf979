"""The worker's lean path (workers.worker.PortalWorker), the reconciler's view of jobs a dead
worker popped, and the submit path's caches — on real Redis and PostgreSQL, in-process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import Job as RQJob

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queue import job_queue, redis_connection
from portal.execution import backends, reconciler, submission
from portal.execution.models import Job, JobStatus
from portal.execution.queue import in_redis, rq_job_id, waiting_ids
from tests.factories.accounts import UserFactory
from tests.integration.execution.test_worker import GHZ, submit
from workers.worker import PortalWorker

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def consumer(committed_db, catalogue):
    user = UserFactory()
    committed_db.commit()
    return user


@pytest.fixture
def one_thread():
    backends.set_threads(1)
    yield
    backends.set_threads(0)


def work_burst():
    worker = PortalWorker([job_queue()], connection=redis_connection(), name="lean-test")
    worker.work(burst=True, logging_level="WARNING", with_scheduler=False)


def status_of(job_id) -> JobStatus:
    db.session.remove()
    return db.session.get(Job, job_id).status


def test_lean_path_completes_the_job_and_leaves_nothing_in_redis(
    client, api_headers, consumer, one_thread
):
    headers = api_headers(consumer)
    first = submit(client, headers, program={"source": GHZ})
    second = submit(client, headers, program={"source": GHZ})
    assert first["queue_position"] == 1 and second["queue_position"] == 2
    work_burst()
    redis = redis_connection()
    for job in (first, second):
        assert status_of(job["id"]) is JobStatus.COMPLETED
        assert not redis.exists(f"rq:job:{rq_job_id(job['id'])}")
    assert redis.llen(job_queue().intermediate_queue_key) == 0
    body = client.get(f"/api/v1/jobs/{second['id']}/result", headers=headers).get_json()
    assert set(body["counts"]) == {"000", "111"}
    # The second run of the same program reused the parsed, prepared circuit.
    assert body["metadata"]["transpile_cached"] is True
    assert body["metadata"]["timings_ms"]["prepare_ms"] == 0


def test_a_crashing_job_is_marked_failed_in_rq_and_requeued_by_the_reconciler(
    client, api_headers, consumer, monkeypatch
):
    import workers.jobs

    def crash(job_id):
        raise RuntimeError("database went away")

    monkeypatch.setattr(workers.jobs, "run", crash)
    job = submit(client, api_headers(consumer), program={"source": GHZ})
    work_burst()
    rq_job = RQJob.fetch(rq_job_id(job["id"]), connection=redis_connection())
    assert rq_job.get_status() == "failed"
    assert status_of(job["id"]) is JobStatus.QUEUED
    assert not in_redis(job["id"])
    later = utcnow() + timedelta(seconds=reconciler.QUEUE_GRACE_SECONDS + 1)
    assert reconciler.reconcile(later).requeued == 1
    assert in_redis(job["id"])


def test_a_job_popped_by_a_worker_that_died_before_claiming_it_is_requeued(
    client, api_headers, consumer
):
    job = submit(client, api_headers(consumer), program={"source": GHZ})
    queue = job_queue()
    # What RQ's dequeue does before the worker dies: the id moves to the intermediate queue
    # and the RQ job still says "queued".
    redis_connection().lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")
    assert not in_redis(job["id"])
    later = utcnow() + timedelta(seconds=reconciler.QUEUE_GRACE_SECONDS + 1)
    assert reconciler.reconcile(later).requeued == 1
    assert in_redis(job["id"], waiting_ids())


def test_other_functions_take_rqs_full_path(committed_db):
    rq_job = job_queue().enqueue("builtins.len", [1, 2, 3], result_ttl=60)
    work_burst()
    assert rq_job.get_status(refresh=True) == "finished"
    assert rq_job.return_value() == 3


def test_resubmitted_programs_are_parsed_once_and_errors_are_not_cached(
    client, api_headers, consumer, monkeypatch
):
    calls = []
    real = submission.parse_program

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(submission, "parse_program", counting)
    submission._FIGURES.clear()
    headers = api_headers(consumer)
    body = {"device": "aer-simulator", "shots": 100, "program": {"source": GHZ}}
    first = client.post("/api/v1/jobs", json=body, headers=headers).get_json()
    second = client.post("/api/v1/jobs", json=body, headers=headers).get_json()
    assert len(calls) == 1 and first["name"] == second["name"] == "3-qubit circuit on aer-simulator"
    broken = {**body, "program": {"source": GHZ.replace("h q[0];", "h q[9];")}}
    for _ in range(2):
        resp = client.post("/api/v1/jobs", json=broken, headers=headers)
        assert resp.status_code == 422
    assert len(calls) == 3


def test_suspension_is_read_once_a_second_and_still_stops_the_worker(committed_db, monkeypatch):
    import rq.worker.base
    from rq.exceptions import StopRequested
    from rq.suspension import resume, suspend

    from workers.worker import SUSPENSION_CHECK_EVERY

    reads = []
    real = rq.worker.base.is_suspended
    monkeypatch.setattr(rq.worker.base, "is_suspended", lambda *a: reads.append(1) or real(*a))
    worker = PortalWorker([job_queue()], connection=redis_connection(), name="suspend-test")
    worker.check_for_suspension(False)
    worker.check_for_suspension(False)
    assert len(reads) == 1  # not a Redis round trip before every job
    worker._last_suspension_check -= SUSPENSION_CHECK_EVERY
    suspend(redis_connection())
    try:
        with pytest.raises(StopRequested):  # a suspended burst worker stops
            worker.check_for_suspension(True)
    finally:
        resume(redis_connection())
    assert len(reads) == 2
