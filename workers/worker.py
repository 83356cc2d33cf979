"""The worker class ``flask worker`` runs: RQ's SimpleWorker with a lean path for portal jobs.

RQ's per-job bookkeeping (execution records, started/finished registries, job heartbeats,
result storage, success counters, a worker heartbeat around every dequeue) costs about 13
Redis round trips and ~50 commands per job — more than a small simulation. The portal's
system of record is PostgreSQL, and liveness of a running job is its advisory lock
(``portal.execution.runner._Liveness``), so for ``workers.jobs.run`` jobs the worker keeps
only what matters:

- RQ's dequeue semantics (the job moves atomically to RQ's intermediate queue, a crash
  marker RQ's maintenance recovers from; the queues in RQ's order; a job whose hash is gone
  skipped) and its timeout (the death penalty), signal handling, worker registration and
  maintenance;
- after the job: it leaves the intermediate queue and the RQ job is deleted (results live in
  PostgreSQL, so RQ keeps none);
- on an unexpected exception: the RQ job is marked failed (kept for a day), so the
  reconciler sees the queue no longer has it and enqueues the still-QUEUED job again.

Any other function on the queue takes RQ's full path. Worker heartbeats and idle-state
writes are throttled to one per ``HEARTBEAT_EVERY`` seconds (RQ's worker TTL is minutes), and
the ``rq suspend`` check to one per ``SUSPENSION_CHECK_EVERY``.

**One Redis round trip per portal job while the queue has work** (there were four: RQ's
BLMOVE and HGETALL, the beat before the job, the clean-up pipeline after it; the job itself
sends none). One script (``NEXT_JOB_LUA``, by EVALSHA) does the finished job's clean-up and
after-job beat, moves the next job id to its intermediate queue, returns the job's hash (the
``Job`` is built from it as ``Job.fetch`` does) and beats "alive" through that job's
timeout. When the queues are empty, the script has done the clean-up and RQ's blocking
dequeue waits (a job it returns costs BLMOVE, HGETALL and the beat). A clean-up still
pending before a wait (a suspension check, maintenance) or on stopping is sent on its own;
in an outage it stays pending and rides on the next dequeue. RQ's server-version read
(INFO) is cached on the connection.

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
from rq.exceptions import NoSuchJobError, StopRequested
from rq.job import JobStatus, parse_job_id
from rq.timeouts import JobTimeoutException
from rq.utils import as_text, get_version
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

# One round trip per portal job while the queue has work: the previous job's clean-up and
# after-job beat, the next job moved to the intermediate queue as RQ's (B)LMOVE does (LPOP
# with several queues, as RQ), its hash, and the beat that keeps the worker alive through it.
# Job keys are built from ids inside the script, as RQ's own scripts do (standalone Redis).
# KEYS: beat zset, alive zset, the queue keys in RQ's order. ARGV: identity, now, prune
# before, default timeout, "1" to move (else pop), job key prefix, then optionally the
# previous job's intermediate queue key, job key and id.
NEXT_JOB_LUA = """
local prefix = ARGV[6]
if ARGV[9] then
  redis.call('LREM', ARGV[7], 1, ARGV[9])
  redis.call('DEL', ARGV[8])
end
local now = tonumber(ARGV[2])
local alive_until = now
local reply = {}
for i = 3, #KEYS do
  local id
  if ARGV[5] == '1' then
    id = redis.call('LMOVE', KEYS[i], KEYS[i] .. ':intermediate', 'LEFT', 'RIGHT')
  else
    id = redis.call('LPOP', KEYS[i])
  end
  if id then
    local hash = redis.call('HGETALL', prefix .. id)
    if #hash == 0 then  -- gone (expired, deleted): RQ skips it; nothing to recover either
      if ARGV[5] == '1' then redis.call('LREM', KEYS[i] .. ':intermediate', 1, id) end
    else
      local timeout = tonumber(redis.call('HGET', prefix .. id, 'timeout') or '')
      if not timeout or timeout == 0 then timeout = tonumber(ARGV[4]) end
      alive_until = now + math.max(0, timeout)
    end
    reply = {KEYS[i], id, hash}
    break
  end
end
if ARGV[9] or #reply > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('ZADD', KEYS[2], alive_until, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
end
return reply
"""


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
    # The finished portal job whose clean-up rides on the next dequeue: (intermediate queue
    # key, job key, job id).
    _pending: tuple[str, str, str] | None = None
    _beaten: str | None = None  # the job the dequeue already beat for
    _next_job_script = None

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
                self._clean_up_pending()
            with suppress(Exception):
                self.teardown()

            heartbeats.forget(self.connection, self.identity)
        return worked

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check (it waits while suspended), at most once per ``SUSPENSION_CHECK_EVERY``."""
        if time.monotonic() - self._last_suspension_check < SUSPENSION_CHECK_EVERY:
            return
        self._clean_up_pending()  # not held back while suspended
        super().check_for_suspension(burst)
        self._last_suspension_check = time.monotonic()

    def run_maintenance_tasks(self):
        self._clean_up_pending()  # RQ's intermediate-queue clean-up should not see it
        super().run_maintenance_tasks()

    # -- dequeue ----------------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """The next job in one round trip (``NEXT_JOB_LUA``) while the queues have work;
        RQ's blocking dequeue when they are empty (the previous job's clean-up done)."""
        self.set_state(WorkerStatus.IDLE)
        self.heartbeat()
        while True:
            result = self._next_job()
            if result is not False:
                break
        if result is None:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        job, queue = result
        self.reorder_queues(reference_queue=queue)
        job.redis_server_version = self.get_redis_server_version()
        self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
        return result

    def _next_job(self):
        """(job, queue), None when the queues are empty, False for a job whose hash is
        gone (RQ skips those)."""
        if self._next_job_script is None:
            self._next_job_script = self.connection.register_script(NEXT_JOB_LUA)
        queues = self._ordered_queues
        move = len(queues) == 1 and get_version(self.connection) >= (6, 2, 0)  # as RQ
        now, pending = time.time(), self._pending
        reply = self._next_job_script(
            keys=[heartbeats.BEAT_KEY, heartbeats.ALIVE_KEY, *(q.key for q in queues)],
            args=[
                self.identity, now, now - heartbeats.KEEP_SECONDS,
                self.queue_class.DEFAULT_TIMEOUT, int(move),
                self.job_class.redis_job_namespace_prefix, *(pending or ()),
            ],
        )  # fmt: skip
        self._pending = None
        if not reply:
            if pending:
                heartbeats.touch(now)
            return None
        queue_key, job_id, fields = as_text(reply[0]), as_text(reply[1]), reply[2]
        queue = next(q for q in queues if q.key == queue_key)
        job = self.job_class(parse_job_id(job_id), connection=self.connection,
                             serializer=self.serializer)  # fmt: skip
        try:
            if not fields:
                raise NoSuchJobError(job_id)
            job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
        except NoSuchJobError:
            return False
        heartbeats.touch(now + max(0.0, job.timeout or self.queue_class.DEFAULT_TIMEOUT))
        self._beaten = job.id
        return job, queue

    def _clean_up_pending(self) -> None:
        """The finished job's clean-up on its own, before a wait or on stopping. In an outage
        it raises and stays pending (the loop backs off; the next dequeue carries it)."""
        if self._pending is None:
            return
        intermediate, key, job_id = self._pending
        with self.connection.pipeline() as pipe:
            pipe.lrem(intermediate, 1, job_id)
            pipe.delete(key)
            heartbeats.add_beat(pipe, self.identity)
            pipe.execute()
        self._pending = None

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
        if self._beaten != job.id:  # alive through the job: nothing beats while Aer runs
            self.beat(alive_for=timeout)
        self._beaten = None
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

            if outcome == "done":  # done by the next dequeue (or before blocking, stopping)
                self._pending = (queue.intermediate_queue_key, job.key, job.id)
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
