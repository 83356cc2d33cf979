"""The worker class ``flask worker`` runs: RQ's SimpleWorker with a lean path for portal jobs.

RQ's per-job bookkeeping (execution records, started/finished registries, job heartbeats,
result storage, success counters, a worker heartbeat around every dequeue) costs about 13
Redis round trips and ~50 commands per job — more than a small simulation. The portal's
system of record is PostgreSQL, and liveness of a running job is its advisory lock
(``portal.execution.services._Liveness``), so for ``workers.jobs.run`` jobs the worker keeps
only what matters:

- RQ's dequeue (the job moves atomically to RQ's intermediate queue, a crash marker) and its
  timeout (the death penalty), signal handling, worker registration and maintenance;
- after the job: one pipeline that drops it from the intermediate queue and deletes the RQ
  job (results live in PostgreSQL, so RQ keeps none);
- on an unexpected exception: the RQ job is marked failed (kept for a day), so the
  reconciler sees the queue no longer has it and enqueues the still-QUEUED job again.

Any other function on the queue takes RQ's full path. Worker heartbeats and idle-state
writes are throttled to one per ``HEARTBEAT_EVERY`` seconds (RQ's worker TTL is minutes).
"""

from __future__ import annotations

import time
from traceback import format_exc

from rq.job import JobStatus
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker

PORTAL_FUNCTION = "workers.jobs.run"
HEARTBEAT_EVERY = 5.0
FAILED_TTL = 24 * 3600


class PortalWorker(SimpleWorker):
    _last_beat = 0.0

    def execute_job(self, job, queue):
        if job.func_name != PORTAL_FUNCTION:
            return super().execute_job(job, queue)
        from workers.jobs import run

        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        try:
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                run(*job.args, **job.kwargs)
        except Exception:
            self.log.error("Worker %s: job %s raised\n%s", self.name, job.id, format_exc())
            with self.connection.pipeline() as pipe:
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.hset(job.key, "status", JobStatus.FAILED.value)
                pipe.expire(job.key, FAILED_TTL)
                pipe.execute()
            return
        with self.connection.pipeline() as pipe:
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.delete(job.key)
            pipe.execute()

    def heartbeat(self, timeout=None, pipeline=None):
        if timeout is None and pipeline is None:
            if time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
                return
            self._last_beat = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == getattr(self, "_state", None):
            return  # idle again after a lean job: nothing changed in Redis
        super().set_state(state, pipeline)
