"""Stripe Checkout through the real SDK against a local stand-in, and signed webhooks:
each event type, bad signatures, stale timestamps, replays, out-of-order delivery."""

import time

from portal.billing.models import PaymentEvent
from portal.core.extensions import db
from portal.marketplace import keys, runs
from portal.marketplace.models import Subscription, SubscriptionStatus
from tests.factories.accounts import UserFactory
from tests.factories.marketplace import trial_with_key


def _subscribe(client, api_headers, listing, user, plan="MONTHLY"):
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/subscribe",
        json={"subscription_type": plan},
        headers=api_headers(user),
    )
    assert response.status_code == 201, response.json
    return response.json


def _sub(sub_id) -> Subscription:
    db.session.expire_all()
    return db.session.get(Subscription, sub_id)


def _session(sub_id, **extra):
    return {
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
        "payment_status": "paid", "customer": "cus_test_1", "subscription": "sub_test_1",
        "client_reference_id": str(sub_id), "metadata": {"subscription_id": str(sub_id)},
        **extra,
    }  # fmt: skip


def _invoice(sub_id, start, end, **extra):
    return {
        "id": f"in_{start}", "object": "invoice", "customer": "cus_test_1",
        "parent": {"subscription_details": {"subscription": "sub_test_1",
                                            "metadata": {"subscription_id": str(sub_id)}}},
        "lines": {"data": [{"period": {"start": start, "end": end}}]},
        **extra,
    }  # fmt: skip


def test_checkout_goes_through_the_sdk_with_idempotency_keys(
    client, api_headers, listing, stripe_api
):
    user = UserFactory()
    body = _subscribe(client, api_headers, listing, user)
    assert body["provider"] == "stripe"
    assert body["checkout_url"] == "https://checkout.stripe.test/c/pay/cs_test_1"
    assert body["subscription"]["status"] == "PENDING"
    customer, session = stripe_api.requests
    assert customer["path"] == "/v1/customers" and customer["method"] == "POST"
    assert customer["params"]["email"] == user.email
    assert customer["idempotency_key"] == f"qh-customer-{user.id}"
    assert customer["authorization"] == "Bearer sk_test_portal"
    sub_id = body["subscription"]["id"]
    assert session["path"] == "/v1/checkout/sessions"
    assert session["idempotency_key"] == f"qh-checkout-{sub_id}"
    params = session["params"]
    assert params["mode"] == "subscription"
    assert params["customer"] == "cus_test_1"
    assert params["line_items[0][price_data][unit_amount]"] == "1900"
    assert params["line_items[0][price_data][currency]"] == "usd"
    assert params["line_items[0][price_data][recurring][interval]"] == "month"
    assert params["subscription_data[metadata][subscription_id]"] == sub_id
    assert params["client_reference_id"] == sub_id
    row = _sub(sub_id)
    assert (row.checkout_session_id, row.stripe_customer_id) == ("cs_test_1", "cus_test_1")


def test_annual_and_pay_as_you_go_prices(client, api_headers, listing, stripe_api):
    _subscribe(client, api_headers, listing, UserFactory(), plan="ANNUAL")
    annual = stripe_api.requests[-1]["params"]
    assert annual["line_items[0][price_data][unit_amount]"] == "19000"
    assert annual["line_items[0][price_data][recurring][interval]"] == "year"
    _subscribe(client, api_headers, listing, UserFactory(), plan="PAY_AS_YOU_GO")
    pack = stripe_api.requests[-1]["params"]
    assert pack["mode"] == "payment"
    assert "line_items[0][price_data][recurring][interval]" not in pack
    assert pack["payment_intent_data[metadata][subscription_id]"]


def test_only_the_signed_webhook_activates_and_replays_do_nothing(
    client, api_headers, listing, stripe_api, send_event
):
    user = UserFactory()
    sub_id = _subscribe(client, api_headers, listing, user)["subscription"]["id"]
    assert _sub(sub_id).status is SubscriptionStatus.PENDING
    first = send_event("checkout.session.completed", _session(sub_id), event_id="evt_once")
    assert first.status_code == 200 and first.json == {"received": True, "duplicate": False}
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE
    assert (sub.usage_limit, sub.remaining_usage_count) == (50, 50)
    assert sub.stripe_subscription_id == "sub_test_1" and sub.usage_resets_at is not None
    runs.consume_run(sub)
    db.session.flush()
    replay = send_event("checkout.session.completed", _session(sub_id), event_id="evt_once")
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    assert _sub(sub_id).remaining_usage_count == 49  # no second refill
    assert PaymentEvent.query.filter_by(event_id="evt_once").count() == 1


def test_bad_signature_and_stale_timestamp(client, api_headers, listing, stripe_api, send_event):
    sub_id = _subscribe(client, api_headers, listing, UserFactory())["subscription"]["id"]
    forged = send_event("checkout.session.completed", _session(sub_id), secret="whsec_wrong")
    assert forged.status_code == 400 and forged.json["error"]["code"] == "bad_signature"
    stale = send_event(
        "checkout.session.completed", _session(sub_id), timestamp=int(time.time()) - 3600
    )
    assert stale.status_code == 400
    missing = client.post(
        "/api/v1/payments/stripe/webhook", data="{}", content_type="application/json"
    )
    assert missing.status_code == 400
    assert _sub(sub_id).status is SubscriptionStatus.PENDING
    assert PaymentEvent.query.count() == 0


def test_webhook_is_off_without_stripe(client):
    response = client.post(
        "/api/v1/payments/stripe/webhook", data="{}", content_type="application/json"
    )
    assert response.status_code == 404


def test_invoice_before_checkout_event_activates_once(
    client, api_headers, listing, stripe_api, send_event
):
    sub_id = _subscribe(client, api_headers, listing, UserFactory())["subscription"]["id"]
    now = int(time.time())
    paid = send_event("invoice.paid", _invoice(sub_id, now, now + 30 * 86400), created=now)
    assert paid.status_code == 200
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.remaining_usage_count == 50
    assert sub.stripe_subscription_id == "sub_test_1"
    runs.consume_run(sub)
    db.session.flush()
    late = send_event("checkout.session.completed", _session(sub_id), created=now - 5)
    assert late.status_code == 200
    assert _sub(sub_id).remaining_usage_count == 49


def test_payment_failed_then_renewal_refills(client, api_headers, listing, stripe_api, send_event):
    user = UserFactory()
    sub_id = _subscribe(client, api_headers, listing, user)["subscription"]["id"]
    now = int(time.time())
    send_event("checkout.session.completed", _session(sub_id), created=now)
    sub = _sub(sub_id)
    _key, plaintext = keys.create_key(sub)
    runs.consume_run(sub)
    db.session.flush()
    period_end = int(sub.usage_resets_at.timestamp())
    failed = send_event(
        "invoice.payment_failed",
        _invoice(sub_id, period_end, period_end + 30 * 86400),
        created=now + 1,
    )
    assert failed.status_code == 200
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE
    run = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": plaintext}
    )
    assert run.status_code == 402 and "payment" in run.json["error"]["message"]
    renewed = send_event(
        "invoice.paid", _invoice(sub_id, period_end, period_end + 30 * 86400), created=now + 2
    )
    assert renewed.status_code == 200
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.remaining_usage_count == 50
    assert int(sub.usage_resets_at.timestamp()) == period_end + 30 * 86400
    # The same period's invoice delivered again under a new event id refills nothing.
    runs.consume_run(sub)
    db.session.flush()
    send_event(
        "invoice.paid", _invoice(sub_id, period_end, period_end + 30 * 86400), created=now + 3
    )
    assert _sub(sub_id).remaining_usage_count == 49


def test_subscription_updated_and_deleted(client, api_headers, listing, stripe_api, send_event):
    sub_id = _subscribe(client, api_headers, listing, UserFactory())["subscription"]["id"]
    now = int(time.time())
    send_event("checkout.session.completed", _session(sub_id), created=now)
    stripe_sub = {"id": "sub_test_1", "object": "subscription", "status": "active",
                  "cancel_at_period_end": True, "metadata": {"subscription_id": sub_id},
                  "items": {"data": [{"current_period_end": now + 86400}]}}  # fmt: skip
    send_event("customer.subscription.updated", stripe_sub, created=now + 1)
    sub = _sub(sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE and int(sub.end_date.timestamp()) == now + 86400
    send_event(
        "customer.subscription.updated", {**stripe_sub, "status": "past_due"}, created=now + 2
    )
    assert _sub(sub_id).status is SubscriptionStatus.PAST_DUE
    send_event(
        "customer.subscription.deleted",
        {**stripe_sub, "status": "canceled", "ended_at": now + 3},
        created=now + 3,
    )
    assert _sub(sub_id).status is SubscriptionStatus.CANCELLED
    # A delayed older invoice never revives a cancelled subscription.
    send_event("invoice.paid", _invoice(sub_id, now, now + 86400), created=now + 1)
    assert _sub(sub_id).status is SubscriptionStatus.CANCELLED
    # Nor does a newer one: cancelled is final.
    send_event("invoice.paid", _invoice(sub_id, now, now + 86400), created=now + 10)
    assert _sub(sub_id).status is SubscriptionStatus.CANCELLED


def test_unknown_events_are_recorded_and_ignored(stripe_api, send_event):
    response = send_event("charge.refunded", {"id": "ch_1", "object": "charge"}, event_id="evt_x")
    assert response.status_code == 200
    assert PaymentEvent.query.filter_by(event_id="evt_x").one().event_type == "charge.refunded"
    orphan = send_event(
        "invoice.paid", {"id": "in_1", "object": "invoice", "subscription": "sub_nobody"}
    )
    assert orphan.status_code == 200


def test_cancellation_goes_to_stripe(client, api_headers, listing, stripe_api, send_event):
    user = UserFactory()
    sub_id = _subscribe(client, api_headers, listing, user)["subscription"]["id"]
    send_event("checkout.session.completed", _session(sub_id))
    response = client.delete(f"/api/v1/subscriptions/{sub_id}", headers=api_headers(user))
    assert response.status_code == 200 and response.json["status"] == "CANCELLED"
    cancel = stripe_api.requests[-1]
    assert (cancel["method"], cancel["path"]) == ("DELETE", "/v1/subscriptions/sub_test_1")
    assert cancel["idempotency_key"] == f"qh-cancel-{sub_id}"
    # Stripe's own deletion event arrives afterwards and changes nothing.
    send_event(
        "customer.subscription.deleted",
        {"id": "sub_test_1", "object": "subscription", "status": "canceled"},
    )
    assert _sub(sub_id).status is SubscriptionStatus.CANCELLED


def test_customer_is_reused_for_the_next_checkout(
    client, api_headers, listing, stripe_api, device=None
):
    user = UserFactory()
    _subscribe(client, api_headers, listing, user)
    _subscribe(client, api_headers, listing, user, plan="ANNUAL")
    paths = [r["path"] for r in stripe_api.requests]
    assert paths.count("/v1/customers") == 1
    # The abandoned first checkout was closed.
    statuses = sorted(s.status.name for s in Subscription.query.filter_by(user_id=user.id))
    assert statuses == ["CANCELLED", "PENDING"]


def test_provider_outage_is_a_503_and_leaves_nothing(
    client, api_headers, listing, app, monkeypatch
):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_portal")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_x")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    user = UserFactory()
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/subscribe",
        json={"subscription_type": "MONTHLY"},
        headers=api_headers(user),
    )
    assert response.status_code == 503
    assert Subscription.query.filter_by(user_id=user.id).count() == 0


def test_trial_keys_move_to_the_paid_subscription(
    client, api_headers, listing, stripe_api, send_event
):
    user, trial, plaintext = trial_with_key(listing)
    sub_id = _subscribe(client, api_headers, listing, user)["subscription"]["id"]
    send_event("checkout.session.completed", _session(sub_id))
    assert _sub(trial.id).status is SubscriptionStatus.EXPIRED
    run = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": plaintext}
    )
    assert run.status_code == 201, run.json
    assert run.json["subscription_id"] == sub_id and run.json["remaining_usage_count"] == 49


def _webhook_count(client, event_type, outcome):
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        if family.name == "qh_webhook_events":
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "qh_webhook_events_total"
                    and labels["type"] == event_type
                    and labels["outcome"] == outcome
                ):
                    return sample.value
    return 0.0


def test_webhook_outcomes_are_counted_for_the_failing_webhook_alert(
    client, api_headers, listing, stripe_api, send_event
):
    sub_id = _subscribe(client, api_headers, listing, UserFactory())["subscription"]["id"]
    before = {
        k: _webhook_count(client, *k)
        for k in [
            ("checkout.session.completed", "applied"),
            ("checkout.session.completed", "replay"),
            ("unverified", "error"),
        ]
    }
    send_event("checkout.session.completed", _session(sub_id), event_id="evt_metric")
    send_event("checkout.session.completed", _session(sub_id), event_id="evt_metric")
    send_event("checkout.session.completed", _session(sub_id), secret="whsec_wrong")
    for key, delta in {
        ("checkout.session.completed", "applied"): 1,
        ("checkout.session.completed", "replay"): 1,
        ("unverified", "error"): 1,
    }.items():
        assert _webhook_count(client, *key) == before[key] + delta
