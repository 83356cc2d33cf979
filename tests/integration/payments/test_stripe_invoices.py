"""Closing a bill that still owes money issues a Stripe invoice through the real SDK (against
the local stand-in), and the signed invoice webhooks settle the bill exactly once."""

from datetime import timedelta
from decimal import Decimal

from portal.billing import services
from portal.billing.models import UserBill
from portal.core.extensions import db
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job


def _close_last_month(user, cost="4.00") -> UserBill:
    start, _ = services.previous_period()
    completed_job(user, cost, finished_at=start + timedelta(days=3))
    report = services.close_period()
    return db.session.get(UserBill, report.bill_ids[0])


def test_closing_issues_one_invoice_with_idempotency_keys(stripe_api):
    user = UserFactory()
    bill = _close_last_month(user)
    calls = {r["path"]: r for r in stripe_api.requests}
    customer = calls["/v1/customers"]
    assert customer["params"]["email"] == user.email
    assert customer["idempotency_key"] == f"qh-customer-{user.id}"
    invoice = calls["/v1/invoices"]
    assert invoice["params"]["metadata[bill_id]"] == str(bill.id)
    assert invoice["params"]["collection_method"] == "send_invoice"
    assert invoice["idempotency_key"] == f"qh-bill-{bill.id}"
    item = calls["/v1/invoiceitems"]
    assert (item["params"]["amount"], item["params"]["currency"]) == ("400", "usd")
    assert item["params"]["invoice"] == "in_test_1"
    assert "/v1/invoices/in_test_1/finalize" in calls
    assert bill.invoice_url == "https://invoice.stripe.test/i/in_test_1"
    assert bill.payment_status == services.PENDING
    assert all(r["authorization"] == "Bearer sk_test_portal" for r in stripe_api.requests)


def test_signed_invoice_paid_settles_the_bill_once(stripe_api, send_event):
    bill = _close_last_month(UserFactory(), cost="2.50")
    invoice = {"id": "in_test_1", "object": "invoice", "metadata": {"bill_id": str(bill.id)}}
    first = send_event("invoice.paid", invoice, event_id="evt_bill_paid")
    assert first.status_code == 200 and first.json["duplicate"] is False
    db.session.expire_all()
    bill = db.session.get(UserBill, bill.id)
    assert bill.payment_status == services.PAID
    assert (bill.paid_amount, bill.pending_amount) == (Decimal("2.50"), Decimal("0.00"))
    replay = send_event("invoice.paid", invoice, event_id="evt_bill_paid")
    assert replay.json["duplicate"] is True


def test_a_provider_outage_leaves_the_bill_pending(stripe_api, monkeypatch):
    stripe_api.shutdown()
    stripe_api.server_close()
    bill = _close_last_month(UserFactory())
    assert bill.closed_at is not None
    assert bill.payment_status == services.PENDING and bill.invoice_url is None
