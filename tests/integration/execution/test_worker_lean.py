"""The worker's lean path (workers.worker.PortalWorker), the reconciler's view of jobs a dead
worker popped, and the submit path's caches — on real Redis and PostgreSQL, in-process."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from redis import Redis
from redis.connection import AbstractConnection
from rq import Queue
from rq.job import Job as RQJob

from portal.core import heartbeats
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queue import job_queue, redis_connection
from portal.execution import backends, reconciler, submission
from portal.execution.models import Job, JobStatus
from portal.execution.queue import in_redis, rq_job_id, waiting_ids
from portal.execution.runner import worker_identity
from tests.conftest import redis_url
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


# -- the dequeue: one Redis round trip per portal job while the queue has work -------------


class RoundTrips:
    """Counts what the process sends Redis: one send is one round trip (a pipeline, a script
    or a single command); ``commands`` keeps the first word of each."""

    def __init__(self, monkeypatch):
        self.sent: list[bytes] = []
        real = AbstractConnection.send_packed_command

        def send(conn, command, check_health=True):
            chunks = command if isinstance(command, list | tuple) else [command]
            self.sent.append(b"".join(bytes(c) for c in chunks))
            return real(conn, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", send)

    def __len__(self):
        return len(self.sent)

    def saw(self, word: bytes) -> bool:
        return any(word in packet for packet in self.sent)


@pytest.fixture
def fake_run(monkeypatch):
    """``workers.jobs.run`` without the job's own work: it records the round trips sent so
    far, so what remains is the worker's."""
    import workers.jobs

    calls = []
    monkeypatch.setattr(workers.jobs, "run", lambda job_id: calls.append(job_id))
    return calls


def test_a_portal_job_costs_one_redis_round_trip_in_steady_state(committed_db, monkeypatch):
    import workers.jobs
    import workers.worker

    # Nothing periodic falls between two jobs (a beat every 5 s, the suspension check).
    monkeypatch.setattr(workers.worker, "HEARTBEAT_EVERY", 3600.0)
    monkeypatch.setattr(workers.worker, "SUSPENSION_CHECK_EVERY", 3600.0)
    queue = job_queue()
    for n in range(8):
        queue.enqueue("workers.jobs.run", f"job-{n}")
    trips = RoundTrips(monkeypatch)
    ran, trips_at_run = [], []

    def run(job_id):  # the job's own work is not the worker's: nothing here
        ran.append(job_id)
        trips_at_run.append(len(trips))

    monkeypatch.setattr(workers.jobs, "run", run)
    work_burst()
    assert ran == [f"job-{n}" for n in range(8)]  # in queue order
    between = [b - a for a, b in itertools.pairwise(trips_at_run)]
    # The clean-up and beat of one job, the next one's dequeue, hash and beat: one script.
    assert between == [1] * 7
    redis = redis_connection()
    assert redis.llen(queue.intermediate_queue_key) == 0 and redis.llen(queue.key) == 0
    assert not redis.keys("rq:job:*")


def test_a_job_dequeued_by_a_worker_that_dies_before_running_it_stays_recoverable(
    client, api_headers, consumer
):
    job = submit(client, api_headers(consumer), program={"source": GHZ})
    queue = job_queue()
    worker = PortalWorker([queue], connection=redis_connection(), name="crash-test")
    rq_job, _ = worker.dequeue_job_and_maintain_ttl(None)  # ...and the process dies here
    assert rq_job.id == rq_job_id(job["id"]) and rq_job.func_name == "workers.jobs.run"
    redis = redis_connection()
    assert redis.lrange(queue.intermediate_queue_key, 0, -1) == [rq_job.id.encode()]
    assert RQJob.fetch(rq_job.id, connection=redis).get_status() == "queued"
    # Alive through the job's timeout, as if it had started.
    alive = redis.zscore(heartbeats.ALIVE_KEY, worker_identity())
    assert alive == pytest.approx(
        redis.zscore(heartbeats.BEAT_KEY, worker_identity()) + rq_job.timeout
    )
    later = utcnow() + timedelta(seconds=reconciler.QUEUE_GRACE_SECONDS + 1)
    assert reconciler.reconcile(later).requeued == 1
    assert in_redis(job["id"], waiting_ids())


def test_a_job_hash_that_is_gone_is_skipped_like_rq_does(committed_db, fake_run):
    queue = job_queue()
    gone = queue.enqueue("workers.jobs.run", "gone")
    queue.enqueue("workers.jobs.run", "kept")
    redis_connection().delete(gone.key)
    work_burst()
    assert fake_run == ["kept"]
    assert redis_connection().llen(queue.intermediate_queue_key) == 0


def test_other_functions_between_portal_jobs_take_rqs_full_path(committed_db, fake_run):
    queue = job_queue()
    portal = [queue.enqueue("workers.jobs.run", "first")]
    other = queue.enqueue("builtins.len", [1, 2, 3], result_ttl=60)
    portal.append(queue.enqueue("workers.jobs.run", "last"))
    work_burst()
    assert fake_run == ["first", "last"]
    assert other.get_status(refresh=True) == "finished" and other.return_value() == 3
    redis = redis_connection()
    assert redis.llen(queue.intermediate_queue_key) == 0
    assert not any(redis.exists(job.key) for job in portal)


def test_an_empty_queue_blocks_after_the_clean_up_and_then_takes_a_new_job(
    committed_db, monkeypatch, fake_run
):
    queue = job_queue()
    first = queue.enqueue("workers.jobs.run", "first")
    worker = PortalWorker(
        [queue], connection=redis_connection(), name="block-test", worker_ttl=16
    )  # RQ blocks dequeue_timeout = 1 s at a time
    trips = RoundTrips(monkeypatch)
    seen_blocked = {}

    def feed():  # once the worker blocks: was the first job cleaned up? then a new job
        deadline = time.monotonic() + 60
        while not trips.saw(b"BLMOVE") and time.monotonic() < deadline:
            time.sleep(0.01)
        redis = Redis.from_url(redis_url())
        seen_blocked["intermediate"] = redis.llen(queue.intermediate_queue_key)
        seen_blocked["first job"] = redis.exists(first.key)
        Queue(queue.name, connection=redis).enqueue("workers.jobs.run", "second")

    def run(job_id):
        fake_run.append(job_id)
        if job_id == "second":
            worker._stop_requested = True  # then the loop ends

    monkeypatch.setattr("workers.jobs.run", run)
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    worker.work(burst=False, logging_level="WARNING", with_scheduler=False)
    feeder.join(timeout=10)
    assert fake_run == ["first", "second"]
    assert seen_blocked == {"intermediate": 0, "first job": 0}
    redis = redis_connection()
    assert redis.llen(queue.intermediate_queue_key) == 0 and not redis.keys("rq:job:*")
