"""Billing test data: completed, costed jobs (as ``run_job`` leaves them) and paid
subscriptions, made directly so billing tests do not depend on running Aer or checkout."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.models import JobResult, JobStatus
from portal.marketplace.models import Subscription, SubscriptionStatus, SubscriptionType
from tests.factories.apps import QuantumAppFactory
from tests.factories.execution import JobFactory


def completed_job(
    user,
    cost: str = "0.50",
    *,
    finished_at: datetime | None = None,
    seconds: float = 0.25,
    **fields,
):
    """A COMPLETED job of ``user`` that cost ``cost``, finished at ``finished_at``."""
    finished = finished_at or utcnow()
    job = JobFactory(
        user=user,
        status=JobStatus.COMPLETED,
        actual_cost=Decimal(cost),
        queued_at=finished - timedelta(seconds=2),
        started_at=finished - timedelta(seconds=1),
        finished_at=finished,
        **fields,
    )
    job.result = JobResult(status="COMPLETED", counts={"00": 50, "11": 50}, execution_time=seconds)
    db.session.flush()
    return job


def subscription(
    user,
    *,
    app=None,
    plan: SubscriptionType = SubscriptionType.MONTHLY,
    rate: str = "19.00",
    start: datetime | None = None,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    end: datetime | None = None,
):
    """A paid subscription of ``user`` to ``app`` (a new provider's app by default)."""
    app = app or QuantumAppFactory()
    sub = Subscription(
        user_id=user.id,
        quantum_app_id=app.id,
        subscription_type=plan,
        status=status,
        start_date=start or utcnow(),
        end_date=end,
        rate=Decimal(rate),
    )
    db.session.add(sub)
    db.session.flush()
    return sub
