"""Stripe webhooks delivered twice at once, out of order and late: exactly one effect each.

tests/integration/payments/test_stripe.py covers sequential replays, an invoice before its
checkout event and stale signatures; this adds deliveries racing each other over a real
threaded server (committed transactions), late events under a newer state, and a late
delivery refused for its stale signature then retried by Stripe with a fresh one.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.billing.models import PaymentEvent
from portal.core.extensions import db
from portal.marketplace import runs
from portal.marketplace.models import SubscriptionStatus
from tests.factories.accounts import UserFactory
from tests.factories.marketplace import listed_app, simulator
from tests.integration.payments.conftest import WEBHOOK_SECRET, sign
from tests.integration.payments.test_stripe import _invoice, _session, _sub, _subscribe

pytestmark = pytest.mark.timeout(60)
DELIVERIES = 8


@pytest.fixture
def stripe_everywhere(stripe_api, live_app, monkeypatch):
    """Stripe configured on the live server's app too (the fixture sets the test app's)."""
    monkeypatch.setitem(live_app.config, "STRIPE_SECRET_KEY", "sk_test_portal")
    monkeypatch.setitem(live_app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(live_app.config, "STRIPE_API_BASE", stripe_api.url)
    return stripe_api


def deliver_at_once(url: str, event: dict) -> list[tuple[int, dict]]:
    """The same signed event POSTed ``DELIVERIES`` times concurrently (Stripe retrying while
    the first delivery is still being processed)."""
    payload = json.dumps(event)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload)}

    def post(_):
        req = urllib.request.Request(
            f"{url}/api/v1/payments/stripe/webhook", payload.encode(), headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())

    with ThreadPoolExecutor(DELIVERIES) as pool:
        return list(pool.map(post, range(DELIVERIES)))


def event(event_type: str, obj: dict, event_id: str, created: int) -> dict:
    return {"id": event_id, "object": "event", "type": event_type, "created": created,
            "data": {"object": obj}}  # fmt: skip


def test_concurrent_duplicate_deliveries_apply_once(
    client, api_headers, live_server, stripe_everywhere, committed_db
):
    simulator()
    listing = listed_app(price="19.00", paid_usage_limit=50)
    user = UserFactory()
    committed_db.commit()
    sub_id = _subscribe(client, api_headers, listing, user)["subscription"]["id"]
    now = int(time.time())

    answers = deliver_at_once(
        live_server.url, event("checkout.session.completed", _session(sub_id), "evt_race_1", now)
    )
    assert [status for status, _ in answers] == [200] * DELIVERIES
    assert sorted(body["duplicate"] for _, body in answers) == [False] + [True] * (DELIVERIES - 1)
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.remaining_usage_count == 50
    runs.consume_run(sub)
    runs.consume_run(sub)
    committed_db.commit()

    # The renewal invoice, raced the same way: one refill.
    end = int(sub.usage_resets_at.timestamp())
    renewal = _invoice(sub_id, end, end + 30 * 86400)
    answers = deliver_at_once(
        live_server.url, event("invoice.paid", renewal, "evt_race_2", now + 1)
    )
    assert sorted(body["duplicate"] for _, body in answers) == [False] + [True] * (DELIVERIES - 1)
    sub = _sub(sub_id)
    assert sub.remaining_usage_count == 50
    assert int(sub.usage_resets_at.timestamp()) == end + 30 * 86400
    db.session.remove()
    assert PaymentEvent.query.filter(PaymentEvent.event_id.like("evt_race_%")).count() == 2


def test_late_and_out_of_order_events_change_nothing(
    client,
    api_headers,
    stripe_api,
    send_event,
):
    simulator()
    listing = listed_app(price="19.00", paid_usage_limit=50)
    sub_id = _subscribe(client, api_headers, listing, UserFactory())["subscription"]["id"]
    now = int(time.time())
    send_event("checkout.session.completed", _session(sub_id), created=now, event_id="evt_a")
    sub = _sub(sub_id)
    end = int(sub.usage_resets_at.timestamp())
    send_event(
        "invoice.payment_failed", _invoice(sub_id, end, end + 86400), created=now + 20,
        event_id="evt_failed",
    )  # fmt: skip
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE
    # An older "paid" arrives after the newer "failed": the newer state stands.
    late_paid = send_event(
        "invoice.paid", _invoice(sub_id, end, end + 86400), created=now + 10, event_id="evt_paid"
    )
    assert late_paid.status_code == 200 and late_paid.json["duplicate"] is False
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE
    # An older subscription.updated (still active) arrives later still: ignored too.
    stale_update = {"id": "sub_test_1", "object": "subscription", "status": "active",
                    "metadata": {"subscription_id": sub_id}}  # fmt: skip
    send_event("customer.subscription.updated", stale_update, created=now + 5)
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE

    # The payment is retried and succeeds; Stripe's webhook delivery of it is late: the first
    # attempt's signature is 10 minutes old (refused, nothing applied), Stripe re-signs the
    # retry with a fresh timestamp (applied once), and retries again (a duplicate).
    retried = _invoice(sub_id, end, end + 86400, id="in_retry")
    stale = send_event("invoice.paid", retried, created=now + 30, event_id="evt_retry",
                       timestamp=int(time.time()) - 600)  # fmt: skip
    assert stale.status_code == 400
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE
    assert PaymentEvent.query.filter_by(event_id="evt_retry").count() == 0
    fresh = send_event("invoice.paid", retried, created=now + 30, event_id="evt_retry")
    assert fresh.status_code == 200 and fresh.json["duplicate"] is False
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE
    again = send_event("invoice.paid", retried, created=now + 30, event_id="evt_retry")
    assert again.json["duplicate"] is True
    # And the old "failed" delivered once more (same id) does not undo the payment.
    replay = send_event(
        "invoice.payment_failed", _invoice(sub_id, end, end + 86400), created=now + 20,
        event_id="evt_failed",
    )  # fmt: skip
    assert replay.json["duplicate"] is True
    assert _sub(sub_id).status is SubscriptionStatus.ACTIVE
    assert PaymentEvent.query.filter_by(event_id="evt_retry").count() == 1
