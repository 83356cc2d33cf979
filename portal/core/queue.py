"""The Redis connection and RQ queue (every job goes through them)."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

QUEUE_NAME = "jobs"


def redis_connection() -> Redis:
    """One client per app (it pools its own connections)."""
    ext = current_app.extensions.setdefault("qh_redis", {})
    if "client" not in ext:
        ext["client"] = Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=2
        )
    return ext["client"]


def job_queue() -> Queue:
    """The jobs queue, one object per app (it caches the server version RQ asks for)."""
    ext = current_app.extensions.setdefault("qh_redis", {})
    if "queue" not in ext:
        ext["queue"] = Queue(QUEUE_NAME, connection=redis_connection())
    return ext["queue"]
