"""Pure rules: prices, allowances, refusal messages, event parsing, minor units."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.core.db import utcnow
from portal.core.payments import LocalTestProvider, minor_units
from portal.marketplace import listings, payments, runs, subscriptions
from portal.marketplace.models import (
    MarketplaceListing,
    Subscription,
    SubscriptionStatus,
    SubscriptionType,
)


def _listing(**kw):
    return MarketplaceListing(
        price=Decimal("19.00"), trial_usage_limit=10, paid_usage_limit=None, **kw
    )


@pytest.mark.parametrize(
    ("plan", "amount", "interval"),
    [
        (SubscriptionType.MONTHLY, "19.00", "month"),
        (SubscriptionType.ANNUAL, "190.00", "year"),
        (SubscriptionType.PAY_AS_YOU_GO, "19.00", None),
        (SubscriptionType.TRIAL, "0", None),
    ],
)
def test_price_for(plan, amount, interval):
    assert listings.price_for(_listing(), plan) == (Decimal(amount), interval)


def test_allowances():
    listing = _listing()
    assert listings.plan_allowance(listing, SubscriptionType.TRIAL) == 10
    assert listings.plan_allowance(listing, SubscriptionType.MONTHLY) is None
    assert listings.plan_allowance(listing, SubscriptionType.PAY_AS_YOU_GO) == 100


@pytest.mark.parametrize(("amount", "currency", "units"), [
    ("19.00", "USD", 1900), ("0.015", "EUR", 2), ("500", "JPY", 500),
])  # fmt: skip
def test_minor_units(amount, currency, units):
    assert minor_units(Decimal(amount), currency) == units


def _sub(**kw):
    base = {"subscription_type": SubscriptionType.MONTHLY, "status": SubscriptionStatus.ACTIVE,
            "usage_limit": 5, "remaining_usage_count": 0}  # fmt: skip
    return Subscription(**{**base, **kw})


def test_effective_status_and_refusals():
    now = utcnow()
    ended = _sub(end_date=now - timedelta(seconds=1))
    assert subscriptions.effective_status(ended) is SubscriptionStatus.EXPIRED
    assert "ended on" in runs.refusal(ended).message
    renew = _sub(usage_resets_at=now + timedelta(days=2))
    refusal = runs.refusal(renew)
    assert refusal.status == 402 and "reset on" in refusal.message
    pack = _sub(subscription_type=SubscriptionType.PAY_AS_YOU_GO)
    assert "buy another pack" in runs.refusal(pack).message
    trial = _sub(subscription_type=SubscriptionType.TRIAL)
    assert "trial's 5 runs" in runs.refusal(trial).message


def test_event_parsing_finds_our_id_in_every_shape():
    assert payments._metadata_id({"metadata": {"subscription_id": "a"}}) == "a"
    assert payments._metadata_id({"client_reference_id": "b"}) == "b"
    invoice = {"parent": {"subscription_details": {"metadata": {"subscription_id": "c"},
                                                   "subscription": "sub_1"}}}  # fmt: skip
    assert payments._metadata_id(invoice) == "c"
    assert payments._provider_subscription_id(invoice) == "sub_1"
    assert payments._provider_subscription_id({"object": "subscription", "id": "sub_2"}) == "sub_2"
    assert payments._provider_subscription_id({"subscription": {"id": "sub_3"}}) == "sub_3"


def test_local_event_has_stripes_shape():
    import uuid

    sub_id = uuid.uuid4()
    event = LocalTestProvider.checkout_completed_event(
        session_id="cs_local_1", subscription_id=sub_id, customer_id="cus_local_1", recurring=False
    )
    assert event["type"] == "checkout.session.completed"
    obj = event["data"]["object"]
    assert obj["mode"] == "payment" and obj["subscription"] is None
    assert obj["metadata"]["subscription_id"] == str(sub_id)
