"""Subscription keys: shown once, stored as SHA-256 hashes with a visible prefix, revocable.

A key runs exactly one thing: its subscription's app (and reads or cancels the jobs it
started). ``authenticate_subscription_key`` is called by the subscription-key authenticator
of ``portal.accounts.auth`` for ``X-API-Key`` values starting with ``qhs_`` (user API keys
start with ``qh_``) and authenticates as a personal API key does
(``portal.accounts.auth.authenticate_stored_key``); the actor it yields holds only the
``subscription`` scope.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from limits import parse as parse_limit

from portal.accounts.auth import (
    SUBSCRIPTION_KEY,
    SUBSCRIPTION_SCOPE,
    authenticate_stored_key,
    register_key_kind,
)
from portal.accounts.models import ApiKeyStatus, User
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.inputs import INT_MAX, whole_number
from portal.core.security import new_token
from portal.marketplace.listings import as_uuid
from portal.marketplace.models import Subscription, SubscriptionKey, SubscriptionStatus

# Subscription keys are ``qhs_…`` (personal API keys ``qh_…``): accounts picks the
# authenticator by the prefix (``register``).
KEY_KIND = "qhs"
DEFAULT_RATE_LIMIT = "60/minute"
MAX_KEYS = 10


def _rate(value: str | None) -> str:
    rate = (value or DEFAULT_RATE_LIMIT).strip()
    try:
        parse_limit(rate)
    except ValueError:
        raise ValidationFailed(
            f"rate_limit {rate!r} is not a limit like '60/minute' or '1000/day'.",
            details={"rate_limit": "like 60/minute"},
        ) from None
    return rate


def create_key(
    sub: Subscription,
    *,
    name: str | None = None,
    rate_limit: str | None = None,
    usage_cap: int | None = None,
) -> tuple[SubscriptionKey, str]:
    """A new key for ``sub``: (row, plaintext). The plaintext is never stored or shown again."""
    if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
        raise Conflict(
            f"This subscription is {sub.status.value.lower()}; keys can only be created for "
            "an active subscription."
        )
    name = (name or "").strip() or "default"
    if len(name) > 100:
        raise ValidationFailed("A key name has at most 100 characters.", details={"name": "<=100"})
    if usage_cap is not None:
        usage_cap = whole_number("usage_cap", usage_cap, low=1, high=INT_MAX)
    active = db.session.execute(
        sa.select(sa.func.count(SubscriptionKey.id)).where(
            SubscriptionKey.subscription_id == sub.id,
            SubscriptionKey.status == ApiKeyStatus.ACTIVE,
        )
    ).scalar_one()
    if active >= MAX_KEYS:
        raise Conflict(f"A subscription can have {MAX_KEYS} active keys; revoke one first.")
    plaintext, prefix, hashed = new_token(KEY_KIND)
    key = SubscriptionKey(
        subscription_id=sub.id,
        name=name,
        value=hashed,
        prefix=prefix,
        type=sub.subscription_type,
        remaining_usage_count=usage_cap,
        rate_limit=_rate(rate_limit),
        status=ApiKeyStatus.ACTIVE,
        expire_at=None,
    )
    db.session.add(key)
    db.session.flush()
    return key, plaintext


def list_keys(sub: Subscription) -> list[SubscriptionKey]:
    return list(
        db.session.execute(
            sa.select(SubscriptionKey)
            .where(SubscriptionKey.subscription_id == sub.id)
            .order_by(SubscriptionKey.created_at.desc(), SubscriptionKey.id)
        ).scalars()
    )


def get_key(sub: Subscription, key_id: Any) -> SubscriptionKey:
    key = db.session.get(SubscriptionKey, as_uuid(key_id, "key"))
    if key is None or key.subscription_id != sub.id:
        raise NotFound("This subscription has no key with that id.")
    return key


def revoke_key(key: SubscriptionKey) -> SubscriptionKey:
    key.status = ApiKeyStatus.REVOKED
    db.session.flush()
    return key


@functools.cache  # built once: its SQLAlchemy cache key is reused
def _key_by_hash():
    return sa.select(SubscriptionKey).where(SubscriptionKey.value == sa.bindparam("value"))


def authenticate_subscription_key(raw_key: str) -> tuple[User, SubscriptionKey]:
    """The key's owner and the key, or 401; the same lookup and checks as a personal API
    key, with the key's own rate limit and ``last_used_at`` touched on every use.
    Subscription status is checked when a job is run (``portal.marketplace.runs.run_app``),
    so the refusal can say exactly what is used up."""
    return authenticate_stored_key(
        _key_by_hash(), raw_key, owner_of=lambda key: key.subscription.user,
        what="subscription key", default_rate=DEFAULT_RATE_LIMIT, bucket="subscription-key",
        touch_every=timedelta(0),
    )  # fmt: skip


def register() -> None:
    """Let an X-API-Key ``qhs_…`` authenticate as this subscription key (app creation)."""
    register_key_kind(
        KEY_KIND,
        authenticate_subscription_key,
        kind=SUBSCRIPTION_KEY,
        scopes=frozenset({SUBSCRIPTION_SCOPE}),
    )
