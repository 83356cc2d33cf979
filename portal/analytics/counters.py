"""Counters bumped by reads — app page views and API requests per key — add up in Redis and
reach PostgreSQL in one batch every ``COUNTER_FLUSH_SECONDS`` (``QH_COUNTER_FLUSH_SECONDS``).

Written straight through, every app page view and every API call would cost an UPDATE and a
COMMIT (a read becomes a write). Buffered, it costs one Redis round trip; the request that
finds the flush due (at most one per interval, a ``SET NX`` with expiry) moves the whole
buffer into the database in one transaction, and the worker's reconciler loop flushes too,
so quiet periods are flushed as well.

The hand-over is atomic (``RENAME`` to a batch key), so two flushers never count the same
increment twice; if the database refuses the batch, its counts go back into the buffer. A
Redis crash loses at most one interval of these counters (never jobs, bills or payments,
which are written to PostgreSQL first). With an interval of 0 (tests), each count joins
the request's own transaction instead.
"""

from __future__ import annotations

import threading
import uuid
from datetime import date

import structlog
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from portal.analytics.usage import add_requests, record_usage
from portal.apps import metrics
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queue import redis_connection

log = structlog.get_logger(__name__)

VIEWS = "qh:counters:views"  # field: app id
USAGE = "qh:counters:usage"  # field: user id | day | endpoint
FLUSH_DUE = "qh:counters:flush-due"


def _interval() -> int:
    return int(current_app.config.get("COUNTER_FLUSH_SECONDS") or 0)


def _client():
    if not has_app_context() or _interval() <= 0:
        return None
    return redis_connection()


def _buffer(key: str, field: str) -> bool:
    """Add one to ``field``; False when nothing was buffered (the caller writes it)."""
    client = _client()
    if client is None:
        return False
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(key, field, 1)
        pipe.set(FLUSH_DUE, 1, nx=True, ex=_interval())
        _count, due = pipe.execute()
    except Exception as exc:  # Redis down: count in the database instead
        log.warning("counter_buffer_unavailable", error=str(exc))
        return False
    if due:
        _flush_in_background()
    return True


def _flush_in_background() -> None:
    """Flush beside the request (its reader does not wait for the batch): a short-lived
    thread with its own app context and database session."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            flush()

    threading.Thread(target=run, name="qh-counter-flush", daemon=True).start()


def count_view(app_id: uuid.UUID) -> None:
    """One view of an app's page (web or API). Unbuffered, the increment joins the
    request's transaction (the caller commits)."""
    if not _buffer(VIEWS, str(app_id)):
        metrics.increment(app_id, "views")


def count_api_request(user_id: uuid.UUID, endpoint: str) -> None:
    """One API request made with a key. Unbuffered, the count joins the request's
    transaction (the caller commits)."""
    if not _buffer(USAGE, f"{user_id}|{utcnow().date().isoformat()}|{endpoint[:255]}"):
        record_usage(user_id, endpoint)


def _apply(session: Session, key: str, counts: dict[str, int]) -> None:
    if key == VIEWS:
        metrics.add_views({uuid.UUID(f): n for f, n in counts.items()}, session)
        return
    requests = {}
    for field, count in counts.items():
        user_id, day, endpoint = field.split("|", 2)
        requests[(uuid.UUID(user_id), endpoint, date.fromisoformat(day))] = count
    add_requests(requests, session)


def flush() -> int:
    """Move every buffered count into the database; returns how many counters were written.
    Never raises: a failure puts the counts back and is logged."""
    client = _client()
    if client is None:
        return 0
    written = 0
    for key in (VIEWS, USAGE):
        batch = f"{key}:batch:{uuid.uuid4().hex}"
        try:
            if not client.exists(key):
                continue
            client.rename(key, batch)  # new increments start a fresh buffer from here
            counts = {f.decode(): int(v) for f, v in client.hgetall(batch).items()}
        except Exception as exc:
            log.warning("counter_flush_failed", key=key, error=str(exc))
            continue
        try:
            with Session(db.engine) as session:
                _apply(session, key, counts)
                session.commit()
            written += len(counts)
            client.delete(batch)
        except Exception as exc:  # database down: keep the counts for the next flush
            log.warning("counter_flush_failed", key=key, error=str(exc))
            try:
                pipe = client.pipeline()
                for field, count in counts.items():
                    pipe.hincrby(key, field, count)
                pipe.delete(batch)
                pipe.execute()
            except Exception as again:  # the batch key stays; its counts are not lost yet
                log.warning("counter_flush_failed", key=batch, error=str(again))
    return written
