"""Worker heartbeats: who is alive, for ``/readyz``, the reconciler and the liveness probe.

Each worker process beats every few seconds from its loop (and while it retries a result
write): one Redis pipeline into two sorted sets keyed by the worker's identity
(``host:pid``, the ``platform_job_id`` of the jobs it runs) —

- ``qh:workers:beat``: the time of the last beat (the reconciler asks "has the worker of this
  RUNNING job beaten lately?" before failing it as dead);
- ``qh:workers:alive``: the time until which the worker counts as alive; a worker starting a
  job sets it to the job's deadline, since Aer holds the GIL while it simulates and nothing
  beats meanwhile. ``/readyz`` answers 503 when no worker is alive within
  ``READYZ_WORKER_SECONDS``.

The same "alive until" time is written as the modification time of ``QH_WORKER_BEAT_FILE``
(default ``/tmp/qh-worker-beat``): the Kubernetes liveness probe compares it with the clock,
without Redis. Every call here tolerates an outage (it logs and returns).
"""

from __future__ import annotations

import os
import tempfile
import time

import structlog

log = structlog.get_logger("portal.core.heartbeats")

BEAT_KEY = "qh:workers:beat"
ALIVE_KEY = "qh:workers:alive"
KEEP_SECONDS = 24 * 3600  # beats older than this are pruned
RECENT_SECONDS = 15.0  # a worker that beat this recently is alive for the reconciler


def beat_file() -> str:
    return os.environ.get("QH_WORKER_BEAT_FILE") or os.path.join(
        tempfile.gettempdir(), "qh-worker-beat"
    )


def touch(until: float) -> None:
    """Write "alive until" to the beat file (a beat sent by other means than ``add_beat``)."""
    try:
        path = beat_file()
        with open(path, "a"):
            pass
        os.utime(path, (until, until))
    except OSError:
        pass


def add_beat(pipe, identity: str, alive_for: float = 0.0) -> None:
    """Queue a beat on ``pipe`` (a worker adds it to the pipeline it sends after a job, so
    the beat costs no extra round trip); the beat file is written at once."""
    now = time.time()
    until = now + max(0.0, alive_for)
    touch(until)
    pipe.zadd(BEAT_KEY, {identity: now})
    pipe.zadd(ALIVE_KEY, {identity: until})
    pipe.zremrangebyscore(BEAT_KEY, "-inf", now - KEEP_SECONDS)
    pipe.zremrangebyscore(ALIVE_KEY, "-inf", now - KEEP_SECONDS)


def beat(redis, identity: str, alive_for: float = 0.0) -> bool:
    """Record a beat; ``alive_for`` extends "alive until" past now (a job starting)."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            add_beat(pipe, identity, alive_for)
            pipe.execute()
        return True
    except Exception as exc:  # Redis down: the next beat tries again
        log.warning("heartbeat not recorded", error=str(exc))
        return False


def forget(redis, identity: str) -> None:
    """A worker leaving on request removes itself."""
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.zrem(BEAT_KEY, identity)
            pipe.zrem(ALIVE_KEY, identity)
            pipe.execute()
    except Exception as exc:
        log.warning("heartbeat not removed", error=str(exc))


def recently_beaten(redis, identity: str | None, within: float = RECENT_SECONDS) -> bool:
    """Whether ``identity`` beat in the last ``within`` seconds (False when unknown)."""
    if not identity:
        return False
    try:
        score = redis.zscore(BEAT_KEY, identity)
    except Exception:
        return False
    return score is not None and score >= time.time() - within


def seconds_since_alive(redis) -> float | None:
    """Seconds since the freshest worker was last alive (0 while one is); None if none ever."""
    top = redis.zrevrange(ALIVE_KEY, 0, 0, withscores=True)
    if not top:
        return None
    return max(0.0, time.time() - float(top[0][1]))


STORING_KEY = "qh:job:storing:{}"
STORING_TTL = 20  # seconds; refreshed on every retry of the write


def storing(redis, job_id, ttl: int = STORING_TTL) -> None:
    """A worker holding a finished job's result it could not write yet (PostgreSQL down)
    says so: the job's lock went with the server, but the job is not orphaned."""
    try:
        redis.set(STORING_KEY.format(job_id), "1", ex=ttl)
    except Exception as exc:
        log.warning("storing marker not set", error=str(exc))


def stored(redis, job_id) -> None:
    try:
        redis.delete(STORING_KEY.format(job_id))
    except Exception as exc:
        log.warning("storing marker not removed", error=str(exc))


def is_storing(redis, job_id) -> bool:
    try:
        return bool(redis.exists(STORING_KEY.format(job_id)))
    except Exception:
        return False
