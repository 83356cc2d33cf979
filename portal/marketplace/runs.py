"""Running a Marketplace app: ``run_app``, the one use case every entry point calls (the
subscription page's form, ``POST /api/v1/marketplace/{id}/jobs`` with a key or signed in, and
``POST /api/v1/jobs`` with a subscription key), holding all the checks of a run; and spending
one run of the allowance.

Usage: ``subscriptions.remaining_usage_count`` is shared by all keys of a subscription and is
decremented by one conditional UPDATE per job (``consume_run``), so concurrent jobs can never
spend more than the allowance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from portal.accounts.auth import check_rate_limit
from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.errors import NotFound, PaymentRequired, ValidationFailed
from portal.core.extensions import db
from portal.execution.models import Job, JobRunMode
from portal.execution.submission import submit_job
from portal.marketplace import policy
from portal.marketplace.keys import DEFAULT_RATE_LIMIT
from portal.marketplace.listings import latest_runnable_version
from portal.marketplace.models import (
    MarketplaceListing,
    Subscription,
    SubscriptionKey,
    SubscriptionStatus,
    SubscriptionType,
)
from portal.marketplace.subscriptions import active_subscription_for, effective_status

DEFAULT_DEVICE = "aer-simulator"
DEFAULT_SHOTS = 1024


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def refusal(sub: Subscription) -> PaymentRequired:
    """Why ``sub`` cannot run a job now, saying what is used up and when it resets."""
    status = effective_status(sub)
    details: dict[str, Any] = {
        "subscription_id": str(sub.id),
        "status": status.value,
        "usage_limit": sub.usage_limit,
        "remaining_usage_count": sub.remaining_usage_count,
        "resets_at": sub.usage_resets_at.isoformat() if sub.usage_resets_at else None,
    }
    trial = sub.subscription_type is SubscriptionType.TRIAL
    what = "trial" if trial else "subscription"
    if status is SubscriptionStatus.PENDING:
        message = "This subscription is waiting for its payment; finish the checkout first."
    elif status is SubscriptionStatus.PAST_DUE:
        message = (
            "The last payment for this subscription failed, so it cannot run jobs. Update "
            "the payment method; jobs resume once the invoice is paid."
        )
    elif status is SubscriptionStatus.CANCELLED:
        message = f"This {what} was cancelled on {_when(sub.end_date)}; subscribe again."
    elif status is SubscriptionStatus.EXPIRED:
        message = f"This {what} ended on {_when(sub.end_date)}; subscribe to keep running it."
    elif trial:
        message = (
            f"Your trial's {sub.usage_limit} runs are used up (it never resets); subscribe "
            "to a paid plan to keep running this app."
        )
    elif sub.subscription_type is SubscriptionType.PAY_AS_YOU_GO:
        message = f"Your pack of {sub.usage_limit} runs is used up; buy another pack."
    else:
        message = (
            f"This subscription's {sub.usage_limit} runs for the current period are used up; "
            f"they reset on {_when(sub.usage_resets_at)}."
        )
    return PaymentRequired(message, details=details, code="usage_exhausted")


def consume_run(sub: Subscription, key: SubscriptionKey | None = None) -> int | None:
    """Spend one run, atomically: a single conditional UPDATE that only succeeds while the
    subscription is active, not ended and has runs left. Returns the runs left (None =
    unlimited) or raises PaymentRequired saying why."""
    now = utcnow()
    row = db.session.execute(
        sa.update(Subscription)
        .where(
            Subscription.id == sub.id,
            Subscription.status == SubscriptionStatus.ACTIVE,
            sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
            sa.or_(
                Subscription.remaining_usage_count.is_(None),
                Subscription.remaining_usage_count > 0,
            ),
        )
        .values(remaining_usage_count=Subscription.remaining_usage_count - 1)
        .returning(Subscription.remaining_usage_count)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        db.session.refresh(sub)
        raise refusal(sub)
    sa.orm.attributes.set_committed_value(sub, "remaining_usage_count", row[0])
    if key is not None and key.remaining_usage_count is not None:
        capped = db.session.execute(
            sa.update(SubscriptionKey)
            .where(SubscriptionKey.id == key.id, SubscriptionKey.remaining_usage_count > 0)
            .values(remaining_usage_count=SubscriptionKey.remaining_usage_count - 1)
            .returning(SubscriptionKey.remaining_usage_count)
            .execution_options(synchronize_session=False)
        ).first()
        if capped is None:
            raise PaymentRequired(
                f"The key {key.prefix}… has used up its own cap of runs; create another key "
                "for this subscription.",
                code="usage_exhausted",
                details={"key_id": str(key.id), "remaining_usage_count": 0},
            )
        sa.orm.attributes.set_committed_value(key, "remaining_usage_count", capped[0])
    return row[0]


# Fields of a generic job submission (``POST /api/v1/jobs``) that a Marketplace run does not
# take: a run is the app's latest published version with inputs, paid by the subscription.
_NOT_IN_A_RUN = (
    (
        ("webhook_url",),
        "A subscription key cannot set a webhook_url (its deliveries belong to the key's "
        "owner): submit with your own credentials.",
        {"webhook_url": "not with a subscription key"},
    ),
    (
        ("primitive",),  # primitive jobs are the user's own (not an app's)
        "A subscription key runs its app only; submit primitive jobs with your own credentials.",
        {"primitive": "not with a subscription key"},
    ),
    (
        ("program", "app_version_id"),
        "A subscription key runs its app only: send inputs (and device, shots), not a "
        "program or app_version_id.",
        {"program": "not with a subscription key"},
    ),
)
# Runs per subscription, whichever way they come (page, signed in, any of its keys); each key
# also has its own limit, counted when it authenticates.
SUBSCRIPTION_RATE_LIMIT = DEFAULT_RATE_LIMIT


def run_app(
    user: User,
    sub: Subscription | None = None,
    *,
    listing: MarketplaceListing | None = None,
    key: SubscriptionKey | None = None,
    inputs: dict[str, Any] | None = None,
    device: str | None = None,
    shots: int | None = None,
    run_mode: str = "ASYNC",
    tags: list[str] | None = None,
    notification_email: str | None = None,
    job_fields: Mapping[str, Any] | None = None,
):
    """Run a Marketplace app: submit a job of the subscription's app (latest published
    version) with ``inputs``, spending one run; the job is enqueued once the unit of work
    commits. Every entry point calls this, so every run gets the same checks, in this order:

    1. nothing of a generic submission (``job_fields``: program, app version, webhook,
       primitive) -- a run is the app's own program;
    2. which subscription pays: ``key``'s (it must cover ``listing``), else ``sub``, else the
       user's active subscription to ``listing`` (402 ``no_subscription`` without one);
    3. who may run: the subscription's owner (404), with a key covering the app (403);
    4. the per-subscription rate limit (429);
    5. a runnable version (409), then ``submit_job``: device, shots, inputs, the budget and
       the run fee (billing) -- and the run spent (402 saying what is used up), both in one
       savepoint so a refusal writes nothing.

    The job carries ``remaining_usage_count``: the runs its subscription has left.
    """
    for names, message, details in _NOT_IN_A_RUN:
        if any((job_fields or {}).get(name) for name in names):
            raise ValidationFailed(message, details=details)
    if key is not None:
        if listing is not None:
            policy.check_key_covers(key, listing.quantum_app_id)
        sub = key.subscription
    elif sub is None:
        sub = active_subscription_for(user, listing) if listing is not None else None
        if sub is None:
            name = listing.app.name if listing is not None else "this app"
            raise PaymentRequired(
                f"You have no active subscription to {name}; start a trial or subscribe first.",
                code="no_subscription",
            )
    if not policy.owns_subscription(user, sub):  # (a key's owner owns its subscription)
        raise NotFound("You have no subscription with that id.")
    check_rate_limit(SUBSCRIPTION_RATE_LIMIT, "subscription", str(sub.id), what="this subscription")
    version = latest_runnable_version(sub.app)
    # A savepoint: if anything below refuses, neither the job nor the spent run stays in the
    # session, whoever commits it later (e.g. an after-request hook).
    with db.session.begin_nested():
        job = submit_job(
            user,
            app_version=version,
            inputs=inputs or {},
            device=device or version.preferred_device_id or DEFAULT_DEVICE,
            shots=shots if shots is not None else DEFAULT_SHOTS,
            run_mode=run_mode,
            tags=tags,
            notification_email=notification_email,
            subscription=sub,
            subscription_key=key,
            name=f"{sub.app.name} {version.version_number}",
        )
        # After validation, so a bad input costs nothing; the UPDATE's row lock is then
        # held only until the request commits.
        consume_run(sub, key)
    job.remaining_usage_count = sub.remaining_usage_count  # runs left, for the answer
    return job


def run_from_api(user: User, key, data: dict) -> Job:
    """POST /api/v1/jobs with a subscription key (``portal.execution.api``): run its app."""
    return run_app(
        user,
        key=key,
        inputs=data.get("inputs"),
        device=data.get("device"),
        shots=data.get("shots"),
        run_mode=data.get("run_mode", JobRunMode.ASYNC),
        tags=data.get("tags"),
        notification_email=data.get("notification_email"),
        job_fields=data,  # a program, app version, webhook or primitive is refused
    )
