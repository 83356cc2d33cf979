"""Marketplace subscriptions: free trials (one per user per app, ever, guaranteed by a partial
unique index), paid plans started through a checkout (PENDING until the payment provider
reports the payment, ``portal.marketplace.payments``), listing, finding and cancelling them,
and the status a subscription has now (a passed end date reads as EXPIRED).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.apps import metrics
from portal.core.db import utcnow
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.core.payments import CheckoutRequest, CheckoutStart, provider
from portal.marketplace import policy
from portal.marketplace.listings import PAID_TYPES, as_uuid, plan_allowance, price_for
from portal.marketplace.models import (
    MarketplaceListing,
    MarketplaceListingStatus,
    Subscription,
    SubscriptionStatus,
    SubscriptionType,
)
from portal.notifications.models import NotificationType
from portal.notifications.services import notify

log = structlog.get_logger("portal.marketplace")


def effective_status(sub: Subscription, now: datetime | None = None) -> SubscriptionStatus:
    """The status, with a passed end date read as EXPIRED (no sweeper needed)."""
    now = now or utcnow()
    if sub.status is SubscriptionStatus.ACTIVE and sub.end_date is not None and sub.end_date <= now:
        return SubscriptionStatus.EXPIRED
    return sub.status


def refresh_subscription_count(app_id: uuid.UUID) -> int:
    """app_metrics.number_of_subscriptions = the app's currently active subscriptions."""
    now = utcnow()
    count = db.session.execute(
        sa.select(sa.func.count(Subscription.id)).where(
            Subscription.quantum_app_id == app_id,
            Subscription.status == SubscriptionStatus.ACTIVE,
            sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
        )
    ).scalar_one()
    metrics.set_figures(app_id, number_of_subscriptions=int(count))
    return int(count)


def _active_for(user: User, app_id: uuid.UUID) -> list[Subscription]:
    now = utcnow()
    return list(
        db.session.execute(
            sa.select(Subscription).where(
                Subscription.user_id == user.id,
                Subscription.quantum_app_id == app_id,
                Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),
                sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
            )
        ).scalars()
    )


def active_subscription_for(user: User, listing: MarketplaceListing) -> Subscription | None:
    subs = _active_for(user, listing.quantum_app_id)
    return subs[0] if subs else None


def _check_open(listing: MarketplaceListing, user: User, plan: SubscriptionType) -> None:
    if listing.status is not MarketplaceListingStatus.ACTIVE:
        raise Conflict(
            f"{listing.app.name} is {listing.status.value.lower()} on the Marketplace and takes "
            "no new subscriptions right now."
        )
    if plan.name not in (listing.subscription_types or []):
        raise ValidationFailed(
            f"{listing.app.name} does not offer {plan.name}; it offers "
            f"{', '.join(listing.subscription_types or [])}.",
            details={"subscription_type": listing.subscription_types},
        )
    if policy.is_provider_of(user, listing.app):
        raise Conflict("You provide this app; run it with your own account instead.")


def notify_subscriber(
    user_id: uuid.UUID, title: str, message: str, link: str | None = None
) -> None:
    notify(user_id, title, message, type=NotificationType.SUBSCRIPTION, link=link)


def start_trial(user: User, listing: MarketplaceListing) -> Subscription:
    """A free trial: limited runs and/or days; one per user per app, ever."""
    _check_open(listing, user, SubscriptionType.TRIAL)
    app = listing.app
    earlier = db.session.execute(
        sa.select(Subscription).filter_by(
            user_id=user.id, quantum_app_id=app.id, subscription_type=SubscriptionType.TRIAL
        )
    ).scalar_one_or_none()
    if earlier is not None:
        raise Conflict(
            f"You already had a trial of {app.name} (started {earlier.start_date:%Y-%m-%d}); "
            "choose a paid plan to keep using it.",
            details={"subscription_id": str(earlier.id)},
        )
    if _active_for(user, app.id):
        raise Conflict(f"You already have an active subscription to {app.name}.")
    now = utcnow()
    allowance = plan_allowance(listing, SubscriptionType.TRIAL)
    end = now + timedelta(days=listing.trial_days) if listing.trial_days else None
    sub = Subscription(
        user_id=user.id,
        quantum_app_id=app.id,
        subscription_type=SubscriptionType.TRIAL,
        status=SubscriptionStatus.ACTIVE,
        start_date=now,
        end_date=end,
        rate=Decimal("0"),
        usage_limit=allowance,
        remaining_usage_count=allowance,
        usage_resets_at=None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(sub)
    except sa.exc.IntegrityError:  # a concurrent request started the trial first
        raise Conflict(f"You already had a trial of {app.name}.") from None
    refresh_subscription_count(app.id)
    notify_subscriber(
        user.id,
        "Trial started",
        f"Your trial of {app.name} is active"
        + (f": {allowance} runs" if allowance else "")
        + (f" until {end:%Y-%m-%d}" if end else "")
        + ". Create a key to run it.",
        link=f"/marketplace/subscriptions/{sub.id}",
    )
    return sub


def _customer_for(user: User, provider_name: str) -> str | None:
    """The buyer's customer id at this provider, from an earlier subscription."""
    rows = db.session.execute(
        sa.select(Subscription.stripe_customer_id)
        .where(Subscription.user_id == user.id, Subscription.stripe_customer_id.is_not(None))
        .order_by(Subscription.created_at.desc())
    ).scalars()
    for customer_id in rows:
        if customer_id.startswith("cus_local_") == (provider_name == "local"):
            return customer_id
    return None


def subscribe(
    user: User,
    listing: MarketplaceListing,
    plan: SubscriptionType | str,
    *,
    success_url: str,
    cancel_url: str,
) -> tuple[Subscription, CheckoutStart]:
    """Start a paid subscription: a PENDING row and a checkout session. It becomes ACTIVE
    only when the payment provider reports the payment (``portal.marketplace.payments``)."""
    if isinstance(plan, str):
        try:
            plan = SubscriptionType[plan.upper()]
        except KeyError:
            raise ValidationFailed(
                "subscription_type must be MONTHLY, ANNUAL or PAY_AS_YOU_GO.",
                details={"subscription_type": plan},
            ) from None
    if plan not in PAID_TYPES:
        raise ValidationFailed(
            "Use POST /marketplace/{id}/trial for a trial; subscribe takes MONTHLY, ANNUAL or "
            "PAY_AS_YOU_GO.",
            details={"subscription_type": plan.name},
        )
    _check_open(listing, user, plan)
    app = listing.app
    for current in _active_for(user, app.id):
        used_up_pack = (
            current.subscription_type is SubscriptionType.PAY_AS_YOU_GO
            and current.remaining_usage_count == 0
        )
        if current.subscription_type is not SubscriptionType.TRIAL and not used_up_pack:
            raise Conflict(
                f"You already have an active {current.subscription_type.name} subscription to "
                f"{app.name}; cancel it first to change plans.",
                details={"subscription_id": str(current.id)},
            )
    # A savepoint: a provider failure leaves no PENDING row behind, whoever commits later.
    with db.session.begin_nested():
        # Abandoned checkouts of this app are closed; the new one replaces them.
        db.session.execute(
            sa.update(Subscription)
            .where(
                Subscription.user_id == user.id,
                Subscription.quantum_app_id == app.id,
                Subscription.status == SubscriptionStatus.PENDING,
            )
            .values(status=SubscriptionStatus.CANCELLED, end_date=utcnow())
            .execution_options(synchronize_session=False)
        )
        amount, interval = price_for(listing, plan)
        sub = Subscription(
            user_id=user.id,
            quantum_app_id=app.id,
            subscription_type=plan,
            status=SubscriptionStatus.PENDING,
            start_date=utcnow(),
            rate=amount,
        )
        db.session.add(sub)
        db.session.flush()
        payments = provider()
        label = {"month": "per month", "year": "per year"}.get(interval or "", "run pack")
        checkout = payments.start_checkout(
            CheckoutRequest(
                subscription_id=sub.id,
                user_id=user.id,
                email=user.email,
                name=user.full_name or user.username,
                description=f"{app.name} — {plan.name.replace('_', ' ').lower()} ({label})",
                amount=amount,
                currency=listing.currency,
                interval=interval,
                success_url=success_url.replace("{SUBSCRIPTION_ID}", str(sub.id)),
                cancel_url=cancel_url,
                customer_id=_customer_for(user, payments.name),
            )
        )
        sub.checkout_session_id = checkout.session_id
        sub.stripe_customer_id = checkout.customer_id
        db.session.flush()
    log.info("checkout started", subscription_id=str(sub.id), provider=payments.name)
    return sub, checkout


def list_subscriptions(
    user: User, *, status: str | None = None, page: int = 1, per_page: int = 20
) -> Page:
    statement = (
        sa.select(Subscription)
        .where(Subscription.user_id == user.id)
        .options(joinedload(Subscription.app))
        .order_by(Subscription.created_at.desc(), Subscription.id)
    )
    if status:
        try:
            statement = statement.where(Subscription.status == SubscriptionStatus[status.upper()])
        except KeyError:
            raise ValidationFailed(
                "Unknown status.", details={"status": list(SubscriptionStatus.__members__)}
            ) from None
    return paginate(statement, page, per_page)


def get_subscription(user: User, sub_id: Any) -> Subscription:
    """The user's subscription; anyone else's is NotFound."""
    sub = db.session.get(Subscription, as_uuid(sub_id, "subscription"))
    if sub is None or not policy.owns_subscription(user, sub):
        raise NotFound("You have no subscription with that id.")
    return sub


def get_by_checkout(user: User, session_id: str) -> Subscription:
    sub = db.session.execute(
        sa.select(Subscription).filter_by(checkout_session_id=session_id)
    ).scalar_one_or_none()
    if sub is None or not policy.owns_subscription(user, sub):
        raise NotFound("No such checkout.")
    return sub


def cancel_subscription(sub: Subscription) -> Subscription:
    """Cancel now: at the payment provider first (recurring plans), then here. Keys stop
    working at once; runs left are forfeited."""
    if sub.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED):
        raise Conflict(f"This subscription is already {sub.status.value.lower()}.")
    if sub.stripe_subscription_id:
        provider().cancel_subscription(sub.stripe_subscription_id, f"qh-cancel-{sub.id}")
    sub.status = SubscriptionStatus.CANCELLED
    sub.end_date = utcnow()
    db.session.flush()
    refresh_subscription_count(sub.quantum_app_id)
    return sub
