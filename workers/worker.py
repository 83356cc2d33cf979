"""The worker class ``flask worker`` runs: RQ's SimpleWorker with a lean path for portal jobs.

RQ's per-job bookkeeping (execution records, started/finished registries, job heartbeats,
result storage, success counters, a worker heartbeat around every dequeue) costs about 13
Redis round trips and ~50 commands per job — more than a small simulation. The portal's
system of record is PostgreSQL, and liveness of a running job is its advisory lock
(``portal.execution.runner._Liveness``), so for ``workers.jobs.run`` jobs the worker keeps
only what matters:

- RQ's dequeue (the job moves atomically to RQ's intermediate queue, a crash marker) and its
  timeout (the death penalty), signal handling, worker registration and maintenance;
- after the job: one pipeline that drops it from the intermediate queue and deletes the RQ
  job (results live in PostgreSQL, so RQ keeps none);
- on an unexpected exception: the RQ job is marked failed (kept for a day), so the
  reconciler sees the queue no longer has it and enqueues the still-QUEUED job again.

Any other function on the queue takes RQ's full path. Worker heartbeats and idle-state
writes are throttled to one per ``HEARTBEAT_EVERY`` seconds (RQ's worker TTL is minutes), and
the ``rq suspend`` check to one per ``SUSPENSION_CHECK_EVERY``.

**It survives its servers.** The loop (``work``) is the portal's own: every Redis and
PostgreSQL error in it, in the clean-up after a job and at start-up is logged and retried
with a capped backoff; the worker leaves only when asked (SIGTERM/SIGINT) or in burst mode.
Each pass beats (``portal.core.heartbeats``): ``/readyz`` and the liveness probe see a
worker that is gone.

**SIGTERM is graceful.** The worker is BUSY (in memory: no Redis write) while it runs a
portal job, so RQ's stop request waits for the job instead of raising inside it. If the
job still runs ``stop_grace`` seconds later (``QH_WORKER_STOP_GRACE_SECONDS``), the
simulation is interrupted with ``HandBack``: the job goes back to QUEUED (the attempt is not
counted) and to the head of the queue, and the worker exits. Never FAILED for a shutdown.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import suppress
from traceback import format_exc

import sqlalchemy as sa
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import JobStatus
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker, WorkerStatus

from portal.core import heartbeats
from portal.execution.runner import HandBack, interruptible, worker_identity
from workers import jobs

PORTAL_FUNCTION = "workers.jobs.run"
HEARTBEAT_EVERY = 5.0
# ``rq suspend`` is read at most this often: RQ asks Redis before every job (a round trip per
# job); a suspension takes effect within this many seconds instead.
SUSPENSION_CHECK_EVERY = 1.0
FAILED_TTL = 24 * 3600
MAX_BACKOFF = 5.0
CLEANUP_GIVE_UP = 30.0  # a clean-up that cannot reach Redis this long is left to maintenance
GRACE_SIGNAL = signal.SIGUSR1


def _db_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    )


class PortalWorker(SimpleWorker):
    _last_beat = 0.0
    _last_suspension_check = float("-inf")
    max_connection_wait_time = MAX_BACKOFF  # RQ's dequeue backoff (its default is 60 s)
    stop_grace = 40.0
    _grace_timer: threading.Timer | None = None

    # -- the loop -----------------------------------------------------------------------

    def _pause(self, backoff: float) -> float:
        time.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF)

    def _bootstrap(self, logging_level) -> None:
        backoff = 0.5
        while True:
            try:
                with suppress(Exception):  # a half-done earlier try left our own key behind
                    if backoff > 0.5:
                        self.connection.delete(self.key)
                self.bootstrap(logging_level, DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT)
                return
            except StopRequested:
                raise
            except Exception as exc:
                self.log.error(
                    "Worker %s: cannot start (%s); retrying in %.1f s", self.name, exc, backoff
                )
                self.beat()
                backoff = self._pause(backoff)

    def work(self, burst: bool = False, logging_level: str | None = "WARNING", **_ignored) -> bool:
        """RQ's loop, except that nothing but a stop request (or burst mode) ends it."""
        self._install_signal_handlers()
        worked = False
        try:
            self._bootstrap(logging_level)
        except StopRequested:
            return False
        backoff = 0.5
        try:
            while not self._stop_requested:
                try:
                    self.check_for_suspension(burst)
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    if self._stop_requested:
                        break
                    result = self.dequeue_job_and_maintain_ttl(
                        None if burst else self.dequeue_timeout
                    )
                    if result is None:
                        if burst:
                            break
                        continue
                    self.execute_job(*result)
                    worked = True
                    self.heartbeat()
                    backoff = 0.5
                except StopRequested:
                    break
                except SystemExit:
                    raise
                except Exception as exc:  # an outage (or a bug): log, wait, carry on
                    self.log.error(
                        "Worker %s: %s: %s; retrying in %.1f s",
                        self.name, type(exc).__name__, exc, backoff,
                    )  # fmt: skip
                    try:
                        self.beat()
                        backoff = self._pause(backoff)
                    except StopRequested:  # SIGTERM while idle, during the wait
                        break
        finally:
            self.log.warning("Worker %s: stopping on request", self.name)
            with suppress(Exception):
                self.teardown()

            heartbeats.forget(self.connection, self.identity)
        return worked

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check (it waits while suspended), at most once per ``SUSPENSION_CHECK_EVERY``."""
        if time.monotonic() - self._last_suspension_check < SUSPENSION_CHECK_EVERY:
            return
        super().check_for_suspension(burst)
        self._last_suspension_check = time.monotonic()

    # -- heartbeats -----------------------------------------------------------------------

    @property
    def identity(self) -> str:

        return worker_identity()

    def beat(self, alive_for: float = 0.0) -> None:

        heartbeats.beat(self.connection, self.identity, alive_for)

    def heartbeat(self, timeout=None, pipeline=None):
        if timeout is None and pipeline is None:
            if time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
                return
            self._last_beat = time.monotonic()
            self.beat()  # tolerant; RQ's own beat below raises in an outage (the loop waits)
        super().heartbeat(timeout, pipeline)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == getattr(self, "_state", None):
            return  # idle again after a lean job: nothing changed in Redis
        super().set_state(state, pipeline)

    # -- graceful stop --------------------------------------------------------------------

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        signal.signal(GRACE_SIGNAL, self._grace_over)

    def request_stop(self, signum, frame):
        if self.get_state() == WorkerStatus.BUSY and self._grace_timer is None:
            self.log.warning(
                "Worker %s: stop requested; finishing the running job (%.0f s grace)",
                self.name, self.stop_grace,
            )  # fmt: skip
            main = threading.main_thread().ident
            self._grace_timer = threading.Timer(
                self.stop_grace, lambda: signal.pthread_kill(main, GRACE_SIGNAL)
            )
            self._grace_timer.daemon = True
            self._grace_timer.start()
        super().request_stop(signum, frame)

    def set_shutdown_requested_date(self):
        # Runs inside the SIGTERM handler, i.e. inside the running job: an outage must not
        # raise there (the job's catch-all would fail the job).
        with suppress(Exception):
            super().set_shutdown_requested_date()

    def _grace_over(self, signum, frame):

        if self.get_state() == WorkerStatus.BUSY and interruptible():
            raise HandBack()

    # -- the lean path --------------------------------------------------------------------

    def _cleanup(self, what: str, commands) -> None:
        """One pipeline of RQ clean-up, retried through a Redis outage (bounded)."""
        backoff, deadline = 0.5, time.monotonic() + CLEANUP_GIVE_UP
        while True:
            try:
                with self.connection.pipeline() as pipe:
                    commands(pipe)
                    pipe.execute()
                return
            except Exception as exc:
                if self._stop_requested or time.monotonic() > deadline:
                    self.log.error("Worker %s: %s skipped (%s)", self.name, what, exc)
                    return
                self.log.error(
                    "Worker %s: %s failed (%s); retrying in %.1f s", self.name, what, exc, backoff
                )
                backoff = self._pause(backoff)

    def execute_job(self, job, queue):
        if job.func_name != PORTAL_FUNCTION:
            return super().execute_job(job, queue)

        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        previous, self._state = self.get_state(), WorkerStatus.BUSY  # in memory only
        self.beat(alive_for=timeout)  # alive through the job: nothing beats while Aer runs
        outcome = "done"
        try:
            try:
                with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                    jobs.run(*job.args, **job.kwargs)
            except HandBack:
                outcome = "handed back"
                self._stop_requested = True
            except Exception as exc:
                if _db_unreachable(exc):
                    outcome = "database down"
                else:
                    outcome = "raised"
                    self.log.error("Worker %s: job %s raised\n%s", self.name, job.id, format_exc())

            def done(pipe):
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.delete(job.key)

            def failed(pipe):
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.hset(job.key, "status", JobStatus.FAILED.value)
                pipe.expire(job.key, FAILED_TTL)

            def back(pipe):  # still QUEUED in PostgreSQL: the next worker runs it first
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                pipe.hset(job.key, "status", JobStatus.QUEUED.value)
                pipe.lpush(queue.key, job.id)

            def beating(commands):  # the after-job beat rides on the clean-up's round trip
                def both(pipe):
                    commands(pipe)
                    heartbeats.add_beat(pipe, self.identity)

                return both

            if outcome == "done":
                self._cleanup("clean-up", beating(done))
            elif outcome == "raised":
                self._cleanup("marking the job failed", beating(failed))
            else:
                self.log.warning(
                    "Worker %s: job %s %s; back to the queue", self.name, job.id, outcome
                )
                self._cleanup("handing the job back", beating(back))
                if outcome == "database down":
                    time.sleep(MAX_BACKOFF / 2)  # not the whole queue through a dead database
        finally:
            self._state = previous
            if self._grace_timer is not None:
                self._grace_timer.cancel()
                self._grace_timer = None
