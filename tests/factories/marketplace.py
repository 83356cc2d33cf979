"""Marketplace listings, subscriptions and keys. ``listed_app`` makes a public app with a
published runnable version, listed on the Marketplace with a trial and paid plans."""

from decimal import Decimal

from portal.core.db import utcnow
from portal.marketplace import keys, listings, subscriptions
from portal.marketplace.models import Subscription, SubscriptionStatus, SubscriptionType
from tests.factories.accounts import UserFactory
from tests.factories.apps import BELL, ROTATION, QuantumAppFactory, add_version
from tests.factories.execution import HardwareFactory

__all__ = ["BELL", "ROTATION", "listed_app", "paid_subscription", "simulator", "trial_with_key"]


def simulator(name: str = "aer-simulator"):
    """The device app jobs default to."""
    from portal.core.extensions import db
    from portal.execution.models import Hardware

    existing = db.session.query(Hardware).filter_by(name=name).one_or_none()
    return existing or HardwareFactory(name=name, qubits=20, gate_set=["h", "cx", "ry", "measure"])


def listed_app(
    *,
    program: str = BELL,
    price: str = "19.00",
    types=("TRIAL", "MONTHLY", "ANNUAL", "PAY_AS_YOU_GO"),
    trial_usage_limit: int = 3,
    trial_days: int = 14,
    paid_usage_limit: int | None = 100,
    **app_fields,
):
    """A listing (with its app and provider) offering ``types``."""
    app = QuantumAppFactory(**app_fields)
    add_version(app, program=program)
    return listings.publish_listing(
        app.id,
        app.developer,
        price=Decimal(price),
        subscription_types=list(types),
        trial_usage_limit=trial_usage_limit,
        trial_days=trial_days,
        paid_usage_limit=paid_usage_limit,
        support_email="help@example.com",
        preview_enabled=True,
    )


def trial_with_key(listing, user=None):
    """A consumer's trial of ``listing`` and a key for it: (user, subscription, plaintext)."""
    user = user or UserFactory()
    sub = subscriptions.start_trial(user, listing)
    _key, plaintext = keys.create_key(sub, name="test")
    return user, sub, plaintext


def paid_subscription(listing, user=None, plan=SubscriptionType.MONTHLY, remaining=None):
    """An ACTIVE paid subscription without going through checkout."""
    user = user or UserFactory()
    limit = listings.plan_allowance(listing, plan)
    sub = Subscription(
        user_id=user.id,
        quantum_app_id=listing.quantum_app_id,
        subscription_type=plan,
        status=SubscriptionStatus.ACTIVE,
        start_date=utcnow(),
        rate=listing.price,
        usage_limit=limit,
        remaining_usage_count=limit if remaining is None else remaining,
    )
    from portal.core.extensions import db

    db.session.add(sub)
    db.session.flush()
    return sub
