"""What payment events do to subscriptions (registered in ``portal.billing.webhooks.HANDLERS``).

Stripe delivers events at least once and in no guaranteed order, so every handler:
- finds the subscription by our id in the metadata (set on the checkout session, the Stripe
  subscription and so its invoices), else by the Stripe subscription id, else by the
  checkout session id — an invoice can arrive before the session that created it;
- locks that row, and ignores an event older than the newest one already applied
  (``payment_event_at``) except for recording the provider's ids;
- never brings a CANCELLED or EXPIRED subscription back (Stripe never revives them either).
Activation refills the allowance once per paid period: a renewal invoice refills it only when
its period starts at or after the stored reset time, so a late duplicate cannot refill twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.marketplace import listings, subscriptions
from portal.marketplace.models import (
    MarketplaceListing,
    Subscription,
    SubscriptionKey,
    SubscriptionStatus,
)

log = structlog.get_logger("portal.marketplace.payments")

TERMINAL = (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED)
# A renewal starts where the previous period ended; allow for clock differences.
PERIOD_SLACK = timedelta(days=1)
STRIPE_STATUS = {
    "active": SubscriptionStatus.ACTIVE,
    "trialing": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
    "incomplete": SubscriptionStatus.PENDING,
    "incomplete_expired": SubscriptionStatus.EXPIRED,
    "canceled": SubscriptionStatus.CANCELLED,
}


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _metadata_id(obj: dict[str, Any]) -> str | None:
    candidates = [
        obj.get("metadata"),
        (obj.get("subscription_details") or {}).get("metadata"),
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata"),
    ]
    for lines in ((obj.get("lines") or {}).get("data") or [])[:1]:
        candidates.append(lines.get("metadata"))
    for meta in candidates:
        if meta and meta.get("subscription_id"):
            return meta["subscription_id"]
    return obj.get("client_reference_id")


def _provider_subscription_id(obj: dict[str, Any]) -> str | None:
    if obj.get("object") == "subscription":
        return obj.get("id")
    value = obj.get("subscription") or (
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    )
    return value.get("id") if isinstance(value, dict) else value


def _find(obj: dict[str, Any]) -> Subscription | None:
    """The subscription an event is about, locked for update."""
    query = sa.select(Subscription).with_for_update().execution_options(populate_existing=True)
    ours = _metadata_id(obj)
    if ours:
        try:
            sub = db.session.execute(query.filter_by(id=uuid.UUID(str(ours)))).scalar_one_or_none()
        except ValueError:
            sub = None
        if sub is not None:
            return sub
    theirs = _provider_subscription_id(obj)
    if theirs:
        sub = db.session.execute(
            query.filter_by(stripe_subscription_id=theirs)
        ).scalar_one_or_none()
        if sub is not None:
            return sub
    if obj.get("object") == "checkout.session" and obj.get("id"):
        return db.session.execute(
            query.filter_by(checkout_session_id=obj["id"])
        ).scalar_one_or_none()
    return None


def _remember_ids(sub: Subscription, obj: dict[str, Any]) -> None:
    theirs = _provider_subscription_id(obj)
    if theirs and not sub.stripe_subscription_id:
        sub.stripe_subscription_id = theirs
    customer = obj.get("customer")
    if isinstance(customer, str) and customer and not sub.stripe_customer_id:
        sub.stripe_customer_id = customer


def _claim(obj: dict[str, Any], created: datetime, kind: str) -> Subscription | None:
    """The subscription to change, or None when the event is unknown, stale or too late."""
    sub = _find(obj)
    if sub is None:
        log.warning("payment event for no known subscription", kind=kind, object_id=obj.get("id"))
        return None
    _remember_ids(sub, obj)
    if sub.payment_event_at is not None and created < sub.payment_event_at:
        log.info("stale payment event ignored", kind=kind, subscription_id=str(sub.id))
        return None
    if sub.status in TERMINAL:
        log.info("payment event for an ended subscription", kind=kind, subscription_id=str(sub.id))
        return None
    sub.payment_event_at = created
    return sub


def _listing(sub: Subscription) -> MarketplaceListing | None:
    return listings.listing_for_app(sub.quantum_app_id)


def _supersede(sub: Subscription) -> None:
    """The buyer's trial (or used-up pack) ends as the paid plan starts; its keys move over,
    so integrations keep working with the same key."""
    now = utcnow()
    others = db.session.execute(
        sa.select(Subscription).where(
            Subscription.user_id == sub.user_id,
            Subscription.quantum_app_id == sub.quantum_app_id,
            Subscription.id != sub.id,
            Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),
        )
    ).scalars()
    for other in others:
        other.status = SubscriptionStatus.EXPIRED
        other.end_date = now
        db.session.execute(
            sa.update(SubscriptionKey)
            .where(SubscriptionKey.subscription_id == other.id)
            .values(subscription_id=sub.id, type=sub.subscription_type)
            .execution_options(synchronize_session="fetch")
        )


def activate(sub: Subscription, *, period_end: datetime | None = None) -> None:
    """PENDING (or PAST_DUE) → ACTIVE. The allowance is filled only on first activation."""
    first = sub.status is SubscriptionStatus.PENDING
    sub.status = SubscriptionStatus.ACTIVE
    if not first:
        db.session.flush()
        subscriptions.refresh_subscription_count(sub.quantum_app_id)
        return
    listing = _listing(sub)
    allowance = listings.plan_allowance(listing, sub.subscription_type) if listing else None
    now = utcnow()
    sub.start_date = now
    sub.end_date = None
    sub.usage_limit = sub.remaining_usage_count = allowance
    days = listings.period_days(sub.subscription_type)
    sub.usage_resets_at = period_end or (now + timedelta(days=days) if days else None)
    _supersede(sub)
    db.session.flush()
    subscriptions.refresh_subscription_count(sub.quantum_app_id)
    app_name = listing.app.name if listing else "the app"
    subscriptions.notify_subscriber(
        sub.user_id,
        "Subscription active",
        f"Your {sub.subscription_type.name.replace('_', ' ').lower()} subscription to "
        f"{app_name} is active"
        + (f" with {allowance} runs" if allowance else " with unlimited runs")
        + ".",
        link=f"/marketplace/subscriptions/{sub.id}",
    )


def on_checkout_completed(obj: dict[str, Any], created: datetime) -> None:
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        return  # delayed payment methods: wait for the invoice
    sub = _claim(obj, created, "checkout.session.completed")
    if sub is not None and sub.status is SubscriptionStatus.PENDING:
        activate(sub)


def _invoice_period(obj: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # The subscription line carries the period paid for (the invoice's own period_start/end
    # describe the previous period for usage-based items).
    for line in (obj.get("lines") or {}).get("data") or []:
        period = line.get("period") or {}
        if period.get("end"):
            return _ts(period.get("start")), _ts(period.get("end"))
    return _ts(obj.get("period_start")), _ts(obj.get("period_end"))


def on_invoice_paid(obj: dict[str, Any], created: datetime) -> None:
    sub = _claim(obj, created, "invoice.paid")
    if sub is None:
        return
    start, end = _invoice_period(obj)
    if sub.status is SubscriptionStatus.PENDING:
        activate(sub, period_end=end)
        return
    new_period = start is not None and (
        sub.usage_resets_at is None or start >= sub.usage_resets_at - PERIOD_SLACK
    )
    if new_period:
        sub.remaining_usage_count = sub.usage_limit
    if end is not None and (sub.usage_resets_at is None or end > sub.usage_resets_at):
        sub.usage_resets_at = end
    activate(sub)


def on_invoice_payment_failed(obj: dict[str, Any], created: datetime) -> None:
    sub = _claim(obj, created, "invoice.payment_failed")
    if sub is None or sub.status is SubscriptionStatus.PENDING:
        return
    sub.status = SubscriptionStatus.PAST_DUE
    db.session.flush()
    subscriptions.refresh_subscription_count(sub.quantum_app_id)
    subscriptions.notify_subscriber(
        sub.user_id,
        "Payment failed",
        "The payment for your subscription failed; jobs are paused until it is paid.",
        link=f"/marketplace/subscriptions/{sub.id}",
    )


def on_subscription_updated(obj: dict[str, Any], created: datetime) -> None:
    sub = _claim(obj, created, "customer.subscription.updated")
    if sub is None:
        return
    status = STRIPE_STATUS.get(obj.get("status") or "")
    items = (obj.get("items") or {}).get("data") or [{}]
    period_end = _ts(obj.get("current_period_end") or items[0].get("current_period_end"))
    if obj.get("cancel_at_period_end") and period_end:
        sub.end_date = period_end  # runs until the paid period ends
    elif obj.get("cancel_at_period_end") is False and sub.end_date and status is not None:
        sub.end_date = None  # cancellation withdrawn
    if status is SubscriptionStatus.ACTIVE and sub.status is SubscriptionStatus.PENDING:
        activate(sub, period_end=period_end)
        return
    if status in TERMINAL:
        sub.end_date = sub.end_date or utcnow()
    if status is not None and status is not SubscriptionStatus.PENDING:
        sub.status = status
    db.session.flush()
    subscriptions.refresh_subscription_count(sub.quantum_app_id)


def on_subscription_deleted(obj: dict[str, Any], created: datetime) -> None:
    sub = _claim(obj, created, "customer.subscription.deleted")
    if sub is None:
        return
    sub.status = SubscriptionStatus.CANCELLED
    sub.end_date = _ts(obj.get("ended_at")) or utcnow()
    db.session.flush()
    subscriptions.refresh_subscription_count(sub.quantum_app_id)
