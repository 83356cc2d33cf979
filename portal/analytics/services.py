"""Dashboard figures: what providers earn, what consumers spend, how the portal is doing.

Plain queries over the system of record (jobs, subscriptions, billing_items, app_metrics,
usage_analytics), grouped by UTC day inside a date range. Money comes from billing items, so
the dashboards and the bills always agree. Each series has one point per day of the range
(zeros included) so the charts read evenly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.analytics.models import UsageAnalytics
from portal.apps.models import AppMetrics, AppVersion, QuantumApp
from portal.billing.models import BillingItem, UserBill
from portal.core import queue as redis_queue
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.execution.models import Job, JobResult, JobStatus
from portal.marketplace.models import Subscription

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    start: date  # first day, included
    end: date  # last day, included

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        last = self.end + timedelta(days=1)
        return datetime(last.year, last.month, last.day, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def parse_range(start: str | None, end: str | None, today: date | None = None) -> DateRange:
    """The range from the picker's two date inputs (YYYY-MM-DD); defaults to the last 30
    days. A bad date, an inverted range or one longer than a year is a ValidationFailed."""
    today = today or utcnow().date()

    def parse(text: str | None, name: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise ValidationFailed(
                f"{name} must be a date like 2025-03-31.", details={name: "YYYY-MM-DD"}
            ) from None

    last = parse(end, "to") or today
    first = parse(start, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationFailed(
            "The start date is after the end date; swap them.", details={"from": "<= to"}
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(
            f"Pick at most {MAX_DAYS} days.", details={"to": f"at most {MAX_DAYS} days after from"}
        )
    return DateRange(first, last)


def _day(column):
    """The UTC calendar day of a timestamp column."""
    return sa.cast(sa.func.timezone("UTC", column), sa.Date)


def _series(rows, period: DateRange, money: bool = False) -> list[tuple[date, Any]]:
    values: dict[date, Any] = dict(rows)
    zero = Decimal("0.00") if money else 0
    return [
        (d, (Decimal(values[d]).quantize(Decimal("0.01")) if money else values[d]) if d in values
         else zero)
        for d in period.days()
    ]  # fmt: skip


def _per_day(column, value, period: DateRange, *where, money: bool = False, join=None):
    day = _day(column).label("day")
    query = sa.select(day, value).where(column >= period.since, column < period.until, *where)
    if join is not None:
        query = join(query)
    rows = db.session.execute(query.group_by(day)).all()
    return _series(rows, period, money)


def _sum(points) -> Any:
    return sum(
        (v for _, v in points),
        Decimal("0.00") if points and isinstance(points[0][1], Decimal) else 0,
    )


# -- provider --------------------------------------------------------------------------------


def provider_dashboard(user, period: DateRange) -> dict[str, Any]:
    """Per-app views, downloads, subscriptions, jobs and revenue, and their daily series."""
    apps = (
        db.session.execute(
            sa.select(QuantumApp)
            .where(QuantumApp.developer_id == user.id)
            .order_by(QuantumApp.name)
        )
        .scalars()
        .all()
    )
    app_ids = [a.id for a in apps]
    metrics = {
        m.quantum_app_id: m
        for m in db.session.execute(
            sa.select(AppMetrics).where(AppMetrics.quantum_app_id.in_(app_ids))
        ).scalars()
    }
    in_apps = Subscription.quantum_app_id.in_(app_ids)
    job_of_app = sa.and_(
        Job.app_version_id == AppVersion.id, AppVersion.quantum_app_id.in_(app_ids)
    )

    def jobs_join(query):
        return query.select_from(Job).join(AppVersion, Job.app_version_id == AppVersion.id)

    def revenue_join(query):
        return query.select_from(BillingItem).join(
            Subscription, BillingItem.subscription_id == Subscription.id
        )

    # Revenue = subscription fees and pay-as-you-go charges (device costs are not the
    # provider's income).
    revenue_kinds = BillingItem.kind.in_(("subscription", "usage"))
    series = {
        "subscriptions": _per_day(
            Subscription.created_at, sa.func.count(Subscription.id), period, in_apps
        ),
        "jobs": _per_day(Job.created_at, sa.func.count(Job.id), period, job_of_app, join=jobs_join),
        "revenue": _per_day(
            BillingItem.created_at,
            sa.func.sum(BillingItem.amount),
            period,
            in_apps,
            revenue_kinds,
            money=True,
            join=revenue_join,
        ),
        "requests": _per_day(
            UsageAnalytics.created_at,
            sa.func.sum(UsageAnalytics.request_count),
            period,
            UsageAnalytics.quantum_app_id.in_(app_ids),
        ),
    }

    def per_app(key, value, join, *where, column) -> dict:
        query = join(sa.select(key, value)).where(
            column >= period.since, column < period.until, *where
        )
        return dict(db.session.execute(query.group_by(key)).all())

    jobs_by_app = per_app(
        AppVersion.quantum_app_id, sa.func.count(Job.id), jobs_join, job_of_app,
        column=Job.created_at,
    )  # fmt: skip
    revenue_by_app = per_app(
        Subscription.quantum_app_id, sa.func.sum(BillingItem.amount), revenue_join, in_apps,
        revenue_kinds, column=BillingItem.created_at,
    )  # fmt: skip
    subs_by_app = dict(
        db.session.execute(
            sa.select(Subscription.quantum_app_id, sa.func.count(Subscription.id))
            .where(
                in_apps,
                Subscription.created_at >= period.since,
                Subscription.created_at < period.until,
            )
            .group_by(Subscription.quantum_app_id)
        ).all()
    )
    rows = []
    for app in apps:
        m = metrics.get(app.id)
        rows.append(
            {
                "app": app,
                "views": m.views if m else 0,
                "downloads": m.downloads if m else 0,
                "subscribers": m.number_of_subscriptions if m else 0,
                "rating": m.average_rating if m else 0.0,
                "new_subscriptions": subs_by_app.get(app.id, 0),
                "jobs": jobs_by_app.get(app.id, 0),
                "revenue": Decimal(revenue_by_app.get(app.id) or 0).quantize(Decimal("0.01")),
            }
        )
    return {
        "apps": rows,
        "series": series,
        "totals": {name: _sum(points) for name, points in series.items()},
    }


# -- consumer --------------------------------------------------------------------------------


def consumer_dashboard(user, period: DateRange) -> dict[str, Any]:
    """Spend and jobs per day, and usage per subscription, for one user."""

    def bill_join(query):
        return query.select_from(BillingItem).join(UserBill, BillingItem.bill_id == UserBill.id)

    spend = _per_day(
        BillingItem.created_at,
        sa.func.sum(BillingItem.amount),
        period,
        UserBill.user_id == user.id,
        money=True,
        join=bill_join,
    )
    jobs = _per_day(Job.created_at, sa.func.count(Job.id), period, Job.user_id == user.id)
    subscriptions = (
        db.session.execute(
            sa.select(Subscription)
            .where(Subscription.user_id == user.id)
            .order_by(Subscription.created_at.desc())
        )
        .scalars()
        .all()
    )
    in_range = sa.and_(Job.created_at >= period.since, Job.created_at < period.until)
    runs = dict(
        db.session.execute(
            sa.select(Job.subscription_id, sa.func.count(Job.id))
            .where(Job.user_id == user.id, Job.subscription_id.is_not(None), in_range)
            .group_by(Job.subscription_id)
        ).all()
    )
    seconds = dict(
        db.session.execute(
            sa.select(Job.subscription_id, sa.func.sum(JobResult.execution_time))
            .join(JobResult, JobResult.job_id == Job.id)
            .where(Job.user_id == user.id, Job.subscription_id.is_not(None), in_range)
            .group_by(Job.subscription_id)
        ).all()
    )
    charged = dict(
        db.session.execute(
            sa.select(BillingItem.subscription_id, sa.func.sum(BillingItem.amount))
            .join(UserBill, BillingItem.bill_id == UserBill.id)
            .where(
                UserBill.user_id == user.id,
                BillingItem.subscription_id.is_not(None),
                BillingItem.created_at >= period.since,
                BillingItem.created_at < period.until,
            )
            .group_by(BillingItem.subscription_id)
        ).all()
    )
    usage = [
        {
            "subscription": sub,
            "runs": runs.get(sub.id, 0),
            "compute_seconds": float(seconds.get(sub.id) or 0.0),
            "spend": Decimal(charged.get(sub.id) or 0).quantize(Decimal("0.01")),
        }
        for sub in subscriptions
    ]
    endpoints = db.session.execute(
        sa.select(
            UsageAnalytics.endpoint,
            sa.func.sum(UsageAnalytics.request_count),
            sa.func.sum(UsageAnalytics.compute_time_seconds),
        )
        .where(
            UsageAnalytics.user_id == user.id,
            UsageAnalytics.date >= period.start,
            UsageAnalytics.date <= period.end,
        )
        .group_by(UsageAnalytics.endpoint)
        .order_by(sa.func.sum(UsageAnalytics.request_count).desc())
        .limit(20)
    ).all()
    return {
        "series": {"spend": spend, "jobs": jobs},
        "totals": {"spend": _sum(spend), "jobs": _sum(jobs)},
        "subscriptions": usage,
        "endpoints": [
            {"endpoint": e, "requests": int(r or 0), "compute_seconds": float(c or 0)}
            for e, r, c in endpoints
        ],
    }


# -- admin -----------------------------------------------------------------------------------


def queue_depth() -> dict[str, int | None]:
    """Jobs waiting in the database and in Redis."""
    queued = db.session.execute(
        sa.select(sa.func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)
    ).scalar_one()
    redis_depth = None
    try:
        redis_depth = redis_queue.job_queue().count
    except Exception:  # Redis down: the figure is unknown, the page still renders
        redis_depth = None
    return {"queued": queued, "redis": redis_depth}


def admin_dashboard(period: DateRange) -> dict[str, Any]:
    users_total = db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
    new_users = _per_day(User.created_at, sa.func.count(User.id), period)
    by_state = dict(
        db.session.execute(
            sa.select(Job.status, sa.func.count(Job.id))
            .where(Job.created_at >= period.since, Job.created_at < period.until)
            .group_by(Job.status)
        ).all()
    )
    states = [(s.value, by_state.get(s, 0)) for s in JobStatus]
    revenue = _per_day(BillingItem.created_at, sa.func.sum(BillingItem.amount), period, money=True)
    jobs = _per_day(Job.created_at, sa.func.count(Job.id), period)
    return {
        "users_total": users_total,
        "series": {"new_users": new_users, "jobs": jobs, "revenue": revenue},
        "totals": {"new_users": _sum(new_users), "jobs": _sum(jobs), "revenue": _sum(revenue)},
        "job_states": states,
        "queue": queue_depth(),
    }


# usage_analytics endpoints that mean "this user downloaded the app" (review eligibility).
DOWNLOAD_ENDPOINTS = ("apps.download", "registry.download")


def downloaded(user_id, app_id) -> bool:
    """Did this user download the app (``portal.marketplace.reviews.can_review``)?"""
    row = db.session.execute(
        sa.select(UsageAnalytics.id)
        .where(
            UsageAnalytics.user_id == user_id,
            UsageAnalytics.quantum_app_id == app_id,
            UsageAnalytics.endpoint.in_(DOWNLOAD_ENDPOINTS),
        )
        .limit(1)
    ).first()
    return row is not None
