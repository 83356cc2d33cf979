"""Job webhooks: validate the URL, keep each user's signing secret, write and send the
deliveries (docs/webhooks.md).

Delivery is a transactional outbox. When a job with a ``webhook_url`` reaches a final state
(``execution.lifecycle.finish``: COMPLETED, FAILED, CANCELLED), a pending
``webhook_deliveries`` row is written in the same transaction as the state; once that commits,
an RQ job (``workers.jobs.deliver_webhook``) asks a worker to send it at once. Retries are
rows too: a failed attempt writes the next one, due after ``BACKOFF``; the reconciler tick
every worker runs (``deliver_due``) sends whatever is due, including a first attempt whose
RQ job was lost (Redis down). A row is sent under ``SELECT ... FOR UPDATE SKIP LOCKED``, so
two workers never send the same attempt. Only workers send: never a web request.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert

from portal.core import queue as redis_queue
from portal.core import uow
from portal.core.db import utcnow
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.urls import check_destination
from portal.execution.jobs import get_job
from portal.execution.models import Job
from portal.webhooks import policy, signing
from portal.webhooks.models import WebhookDelivery, WebhookSecret

log = structlog.get_logger("portal.webhooks")

BACKOFF = (10, 60, 300, 1800, 7200)  # seconds before retry 1..5
MAX_ATTEMPTS = 1 + len(BACKOFF)
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 10.0
EXCERPT_CHARS = 500
DUE_BATCH = 100
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


# -- the secret -------------------------------------------------------------------------------


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def get_secret(user_id: uuid.UUID) -> WebhookSecret | None:
    return db.session.execute(
        sa.select(WebhookSecret).filter_by(user_id=user_id)
    ).scalar_one_or_none()


def ensure_secret(user_id: uuid.UUID) -> WebhookSecret:
    """The user's secret, made on first need (a job with a webhook, the settings page)."""
    db.session.execute(
        insert(WebhookSecret)
        .values(id=uuid.uuid4(), user_id=user_id, secret=_new_secret(), created_at=utcnow(),
                updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id"])
    )  # fmt: skip
    return get_secret(user_id)


def rotate_secret(actor, user_id: uuid.UUID) -> WebhookSecret:
    """A new secret for the user (made if there was none); the old one stops signing at once."""
    if not policy.may_manage_secret(actor, user_id):
        raise NotFound("No such user.")
    row = ensure_secret(user_id)
    db.session.refresh(row, with_for_update=True)
    row.secret = _new_secret()
    db.session.flush()
    log.info("webhook secret rotated", user_id=str(user_id))
    return row


# -- writing deliveries -----------------------------------------------------------------------


def event_of(job) -> str:
    return f"job.{job.status.value.lower()}"


def job_finished(job) -> WebhookDelivery | None:
    """Called in the transaction that writes a job's final state: the first attempt, sent by a
    worker once that transaction commits."""
    if not job.webhook_url:
        return None
    row = WebhookDelivery(
        job_id=job.id, attempt=1, event=event_of(job), url=job.webhook_url,
        next_attempt_at=utcnow(),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    delivery_id = row.id
    uow.after_commit(lambda: enqueue(delivery_id))
    return row


# ``first_delivery_write``'s: its parameters are prefixed ``w_``, its row comes ``FROM done``.
DELIVERY_INSERT = (
    "INSERT INTO webhook_deliveries (id, created_at, updated_at, job_id, attempt, event, url,"
    " replay, next_attempt_at) SELECT :w_id, :w_now, :w_now, :w_job_id, 1, :w_event, :w_url,"
    " false, :w_now FROM done"
)


def first_delivery_write(job) -> tuple[str, dict[str, Any]]:
    """``job_finished`` for a caller that writes the row in a statement of its own (a
    worker's completion, one round trip): the INSERT and its parameters; the enqueue runs
    once the caller's unit of work commits."""
    delivery_id = uuid.uuid4()
    uow.after_commit(lambda: enqueue(delivery_id))
    params = {"id": delivery_id, "now": utcnow(), "job_id": job.id, "event": event_of(job),
              "url": job.webhook_url}  # fmt: skip
    return DELIVERY_INSERT, {f"w_{name}": value for name, value in params.items()}


def enqueue(delivery_id: uuid.UUID) -> None:
    """Ask a worker to send a committed pending delivery now; on failure the reconciler tick
    sends it (it is due already)."""
    try:
        redis_queue.job_queue().enqueue(
            "workers.jobs.deliver_webhook",
            str(delivery_id),
            job_id=f"qh-webhook-{delivery_id}",
            job_timeout=int(CONNECT_TIMEOUT + READ_TIMEOUT + 30),
            result_ttl=0,
            failure_ttl=3600,
        )
    except Exception as exc:
        log.warning("webhook enqueue failed; the reconciler will send it", error=str(exc))


# -- sending ----------------------------------------------------------------------------------


def payload(job, row: WebhookDelivery) -> bytes:
    result = job.result
    document: dict[str, Any] = {
        "event": row.event,
        "delivery_id": str(row.id),
        "attempt": row.attempt,
        "replay": row.replay,
        "job": {
            "id": str(job.id),
            "name": job.name,
            "status": job.status.value,
            "device": job.device_id,
            "shots": job.shots,
            "tags": job.tags or [],
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "failure_reason": job.failure_reason,
            "actual_cost": str(job.actual_cost) if job.actual_cost is not None else None,
            "result_url": f"/api/v1/jobs/{job.id}/result",
            "counts": result.counts if result is not None else None,
            "execution_time": result.execution_time if result is not None else None,
        },
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    parts = urlsplit(url)
    check_destination(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    with requests.Session() as http:
        http.trust_env = False  # no proxy from the environment: the URL is where it goes
        response = http.post(
            url, data=body, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False, stream=True,
        )  # fmt: skip
        try:
            raw = response.raw.read(EXCERPT_CHARS * 4, decode_content=True) or b""
        finally:
            response.close()
    return response.status_code, raw.decode("utf-8", "replace")[:EXCERPT_CHARS]


def deliver(delivery_id: uuid.UUID | str, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Send one pending attempt (a worker step: commits). None when it is not pending (sent
    already, or another worker holds it)."""
    row = db.session.execute(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.id == uuid.UUID(str(delivery_id)))
        .where(WebhookDelivery.attempted_at.is_(None))
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if row is None:
        uow.rollback()
        return None
    job = db.session.get(Job, row.job_id)
    secret = ensure_secret(job.user_id).secret
    body = payload(job, row)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "QuantumHub-Webhooks/1",
        "QH-Event": row.event,
        "QH-Delivery": str(row.id),
        signing.HEADER: signing.sign(secret, body),
    }
    started = time.monotonic()
    status_code, excerpt, error = None, None, None
    try:
        status_code, excerpt = _post(row.url, body, headers)
    except Exception as exc:  # refused address, DNS, connection, timeout: recorded, retried
        error = f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS]
    now = now or utcnow()
    row.attempted_at = now
    row.next_attempt_at = None
    row.status_code, row.response_excerpt, row.error = status_code, excerpt, error
    row.duration_ms = int((time.monotonic() - started) * 1000)
    if row.state != "SUCCEEDED" and not row.replay and row.attempt < MAX_ATTEMPTS:
        db.session.add(
            WebhookDelivery(
                job_id=row.job_id, attempt=row.attempt + 1, event=row.event, url=row.url,
                next_attempt_at=now + timedelta(seconds=BACKOFF[row.attempt - 1]),
            )
        )  # fmt: skip
    uow.commit(expire=False)
    log.info(
        "webhook attempt",
        job_id=str(row.job_id),
        attempt=row.attempt,
        host=urlsplit(row.url).hostname,
        status_code=status_code,
        failed=row.state != "SUCCEEDED",
    )
    return row


def deliver_due(now: datetime | None = None) -> int:
    """The reconciler tick: send every attempt that is due; returns how many were sent."""
    now = now or utcnow()
    due = (
        db.session.execute(
            sa.select(WebhookDelivery.id)
            .where(WebhookDelivery.attempted_at.is_(None), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(DUE_BATCH)
        )
        .scalars()
        .all()
    )
    uow.rollback()
    sent = 0
    for delivery_id in due:
        try:
            sent += deliver(delivery_id, now=now) is not None
        except Exception:  # one bad row must not block the others
            uow.rollback()
            log.exception("webhook delivery failed", delivery_id=str(delivery_id))
    return sent


# -- reading and replaying --------------------------------------------------------------------


def _job(actor, job_id):
    job = get_job(actor, job_id)
    if not policy.may_see_deliveries(actor, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    return job


def list_deliveries(actor, job_id) -> list[WebhookDelivery]:
    job = _job(actor, job_id)
    return (
        db.session.execute(
            sa.select(WebhookDelivery)
            .filter_by(job_id=job.id)
            .order_by(WebhookDelivery.attempt.desc(), WebhookDelivery.created_at.desc())
        )
        .scalars()
        .all()
    )


def replay(actor, job_id, delivery_id) -> WebhookDelivery:
    """Send a delivery again (one attempt, not retried): a new pending row, sent by a worker
    once the request commits."""
    job = _job(actor, job_id)
    if not policy.may_replay(actor, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    try:
        original = db.session.get(WebhookDelivery, uuid.UUID(str(delivery_id)))
    except ValueError:
        original = None
    if original is None or original.job_id != job.id:
        raise NotFound("No such delivery.", details={"delivery_id": str(delivery_id)})
    attempts = db.session.execute(
        sa.select(sa.func.max(WebhookDelivery.attempt)).filter_by(job_id=job.id)
    ).scalar_one()
    row = WebhookDelivery(
        job_id=job.id, attempt=(attempts or 0) + 1, event=event_of(job), url=original.url,
        replay=True, next_attempt_at=utcnow(),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    new_id = row.id
    uow.after_commit(lambda: enqueue(new_id))
    log.info("webhook replay", job_id=str(job.id), attempt=row.attempt)
    return row
