"""What the admin pages show: every job with filters, revenue per app and per provider by
month, and the queue's health. Each function asks ``accounts.policy`` first; the views only
parse and render."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog

from portal.accounts import policy
from portal.accounts.models import User
from portal.apps.models import AppVersion, QuantumApp
from portal.billing.models import BillingItem, UserBill
from portal.core import heartbeats
from portal.core import queue as redis_queue
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.execution.models import Job, JobStatus
from portal.marketplace.models import Subscription

log = structlog.get_logger("portal.admin")

JOB_FILTERS = ("state", "device", "user", "app")


def job_filters(args: Any) -> dict[str, str]:
    """The filters of the all-jobs page from a query string: stripped, unknown states dropped."""
    found = {name: (args.get(name) or "").strip() for name in JOB_FILTERS}
    if found["state"] and found["state"].upper() not in {s.value for s in JobStatus}:
        found["state"] = ""
    found["state"] = found["state"].upper()
    return found


def list_jobs(actor: User, filters: dict[str, str], page: int, per_page: int) -> Page:
    """Every user's jobs, newest first, filtered by state, device name, username and app name
    (substring, case-insensitive). Each item of the page is a row (job, username, app name)."""
    policy.check_admin(actor)
    stmt = (
        sa.select(Job, User.username, QuantumApp.name)
        .join(User, User.id == Job.user_id)
        .outerjoin(AppVersion, AppVersion.id == Job.app_version_id)
        .outerjoin(QuantumApp, QuantumApp.id == AppVersion.quantum_app_id)
    )
    if filters.get("state"):
        stmt = stmt.where(Job.status == JobStatus(filters["state"]))
    if filters.get("device"):
        stmt = stmt.where(Job.device_id.ilike(f"%{filters['device']}%"))
    if filters.get("user"):
        stmt = stmt.where(User.username.ilike(f"%{filters['user']}%"))
    if filters.get("app"):
        stmt = stmt.where(QuantumApp.name.ilike(f"%{filters['app']}%"))
    return paginate(stmt.order_by(Job.created_at.desc(), Job.id), page, per_page, rows=True)


def devices(actor: User) -> list[str]:
    policy.check_admin(actor)
    return list(
        db.session.execute(
            sa.select(Job.device_id)
            .where(Job.device_id.is_not(None))
            .distinct()
            .order_by(Job.device_id)
        ).scalars()
    )


@dataclass
class Revenue:
    """Revenue by month: ``rows`` are (month "YYYY-MM", name, amount), newest month first;
    ``totals`` per month for the chart."""

    rows: list[tuple[str, str, Decimal]] = field(default_factory=list)
    totals: list[tuple[str, Decimal]] = field(default_factory=list)


def revenue(actor: User, by: str = "app") -> Revenue:
    """What subscribers paid for apps (subscription fees and pay-as-you-go usage lines of
    every bill), per month of the bill, per app or per provider (the app's developer)."""
    policy.check_admin(actor)
    month = sa.func.to_char(UserBill.period_start, "YYYY-MM")
    name = QuantumApp.name if by == "app" else User.username
    key = QuantumApp.id if by == "app" else User.id  # two apps of one name stay apart
    stmt = (
        sa.select(month, name, sa.func.sum(BillingItem.amount))
        .select_from(BillingItem)
        .join(UserBill, UserBill.id == BillingItem.bill_id)
        .join(Subscription, Subscription.id == BillingItem.subscription_id)
        .join(QuantumApp, QuantumApp.id == Subscription.quantum_app_id)
    )
    if by != "app":
        stmt = stmt.join(User, User.id == QuantumApp.developer_id)
    rows = db.session.execute(
        stmt.group_by(month, name, key).order_by(month.desc(), name, key)
    ).all()
    result = Revenue(rows=[(m, n, Decimal(a)) for m, n, a in rows])
    totals: dict[str, Decimal] = {}
    for m, _n, a in result.rows:
        totals[m] = totals.get(m, Decimal("0.00")) + a
    result.totals = sorted(totals.items())
    return result


@dataclass
class QueueHealth:
    queued: int
    running: int
    oldest_queued_at: datetime | None
    oldest_queued_seconds: float | None
    queue_depth: int | None  # jobs waiting in Redis; None when Redis does not answer
    workers: list[dict[str, Any]]  # identity, seconds since the last beat, alive


def queue_health(actor: User, redis=None) -> QueueHealth:
    policy.check_admin(actor)
    counts = dict(
        db.session.execute(
            sa.select(Job.status, sa.func.count())
            .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            .group_by(Job.status)
        ).all()
    )
    oldest = db.session.execute(
        sa.select(sa.func.min(Job.queued_at)).where(Job.status == JobStatus.QUEUED)
    ).scalar_one()
    age = (utcnow() - oldest).total_seconds() if oldest else None
    depth, workers = None, []
    try:
        queue = redis_queue.job_queue()
        redis = redis or queue.connection
        depth = queue.count
        now = time.time()
        alive = dict(redis.zrange(heartbeats.ALIVE_KEY, 0, -1, withscores=True))
        for identity, beat in redis.zrevrange(heartbeats.BEAT_KEY, 0, -1, withscores=True):
            identity_text = identity.decode() if isinstance(identity, bytes) else str(identity)
            workers.append(
                {
                    "identity": identity_text,
                    "seconds_since_beat": max(0.0, now - float(beat)),
                    "alive": float(alive.get(identity, 0)) >= now
                    or now - float(beat) <= heartbeats.RECENT_SECONDS,
                }
            )
    except Exception as exc:  # Redis down: the page still shows what PostgreSQL knows
        log.warning("queue health without Redis", error=str(exc))
    return QueueHealth(
        queued=counts.get(JobStatus.QUEUED, 0),
        running=counts.get(JobStatus.RUNNING, 0),
        oldest_queued_at=oldest,
        oldest_queued_seconds=age,
        queue_depth=depth,
        workers=workers,
    )
