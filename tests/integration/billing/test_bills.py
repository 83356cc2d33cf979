"""Bills built from jobs and subscriptions, closing (idempotent, exact totals), payments
through the local provider and invoice events, the API and ownership."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import pdf, services
from portal.billing.models import BillingItem, UserBill
from portal.billing.webhooks import process_event
from portal.core.db import utcnow
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.marketplace.models import SubscriptionType
from portal.notifications.models import Notification
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import JobFactory


def _last_month_day():
    start, _ = services.previous_period()
    return start + timedelta(days=3, hours=5)


def test_open_bill_has_one_line_per_job_and_subscription_with_exact_totals():
    user = UserFactory()
    job_a = completed_job(user, "0.015".rstrip("5") + "2", name="bell-a")  # 0.012 -> 0.01
    job_b = completed_job(user, "1.27", name="bell-b")
    JobFactory(user=user)  # queued: not charged yet
    monthly = subscription(user, rate="19.00")
    payg = subscription(user, plan=SubscriptionType.PAY_AS_YOU_GO, rate="0.35")
    # Plan runs carry no device fee (execution records 0.00): no job line of their own.
    completed_job(user, "0.00", subscription_id=payg.id, name="run-1")
    completed_job(user, "0.00", subscription_id=payg.id, name="run-2")
    subscription(user, plan=SubscriptionType.TRIAL, rate="0")

    bill = services.current_bill(user)

    by_job = {i.job_id: i for i in bill.items if i.job_id}
    assert by_job[job_a.id].amount == Decimal("0.01")
    assert by_job[job_b.id].amount == Decimal("1.27")
    # One run at its price: quantity x unit price is the amount.
    assert by_job[job_b.id].quantity == 1
    assert by_job[job_b.id].unit_price == Decimal("1.27")
    assert f"{job_b.shots} shots" in by_job[job_b.id].description
    assert "bell-b" in by_job[job_b.id].description
    fee = next(i for i in bill.items if i.kind == "subscription")
    assert (fee.subscription_id, fee.quantity, fee.amount) == (monthly.id, 1, Decimal("19.00"))
    usage = next(i for i in bill.items if i.kind == "usage")
    assert (usage.subscription_id, usage.quantity, usage.amount) == (payg.id, 2, Decimal("0.70"))
    assert len(bill.items) == 4
    total = services.bill_total(bill)
    assert total == sum(i.amount for i in bill.items) == Decimal("20.98")
    assert bill.paid_amount == Decimal("19.00")  # the prepaid subscription fee
    assert bill.paid_amount + bill.pending_amount == total
    assert bill.payment_status == services.OPEN


def test_syncing_again_adds_nothing_and_a_job_is_charged_once():
    user = UserFactory()
    job = completed_job(user, "2.00")
    subscription(user, rate="5.00")
    first = services.current_bill(user)
    count = len(first.items)
    again = services.current_bill(user)
    assert again.id == first.id and len(again.items) == count
    assert db.session.query(BillingItem).filter_by(job_id=job.id).count() == 1


def test_close_period_is_idempotent_and_late_jobs_go_to_the_open_bill():
    user = UserFactory()
    day = _last_month_day()
    completed_job(user, "3.333", finished_at=day)  # stored as Money: 3.33
    completed_job(user, "1.00", finished_at=day + timedelta(days=1))
    current_job = completed_job(user, "9.00")
    subscription(user, rate="10.00", start=day - timedelta(days=40))

    report = services.close_period()
    assert report.closed == 1
    bill = db.session.get(UserBill, report.bill_ids[0])
    assert bill.closed_at is not None and bill.period_start == services.previous_period()[0]
    assert [i.kind for i in bill.items].count("job") == 2
    assert current_job.id not in {i.job_id for i in bill.items}
    assert services.bill_total(bill) == Decimal("14.33") == report.total
    assert (bill.paid_amount, bill.pending_amount) == (Decimal("10.00"), Decimal("4.33"))
    assert bill.payment_status == services.PENDING
    assert bill.due_date == bill.period_end + timedelta(days=services.DUE_DAYS)
    snapshot = [(i.id, i.amount) for i in bill.items]

    late = completed_job(user, "0.40", finished_at=day + timedelta(days=2))
    second = services.close_period()
    assert (second.closed, second.already_closed) == (0, 1)
    db.session.refresh(bill)
    assert [(i.id, i.amount) for i in bill.items] == snapshot
    current = services.current_bill(user)
    assert late.id in {i.job_id for i in current.items}


def test_a_period_that_has_not_ended_cannot_be_closed():
    with pytest.raises(ValidationFailed, match="has not ended"):
        services.close_period(services.period_bounds()[0])


def test_cli_closes_a_period_twice_without_change(app):
    user = UserFactory()
    completed_job(user, "1.00", finished_at=_last_month_day())
    runner = app.test_cli_runner()
    period = services.previous_period()[0].strftime("%Y-%m")
    first = runner.invoke(args=["billing", "close-period", "--period", period])
    assert first.exit_code == 0, first.output
    assert "closed 1 bill(s) totalling 1.00 USD" in first.output
    second = runner.invoke(args=["billing", "close-period", "--period", period])
    assert "closed 0 bill(s)" in second.output and "1 already closed" in second.output
    bad = runner.invoke(args=["billing", "close-period", "--period", "soon"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output


def test_scheduled_close_hook_closes_last_month():
    user = UserFactory()
    completed_job(user, "2.50", finished_at=_last_month_day())
    assert services.scheduled_close().closed == 1
    assert services.scheduled_close().closed == 0


def _closed_bill(user, cost="4.00"):
    completed_job(user, cost, finished_at=_last_month_day())
    report = services.close_period()
    return db.session.get(UserBill, report.bill_ids[0])


def test_local_payment_marks_the_bill_paid_and_replays_do_nothing():
    user = UserFactory()
    bill = _closed_bill(user)
    services.pay_locally(user, bill.id)
    assert bill.payment_status == services.PAID
    assert (bill.paid_amount, bill.pending_amount) == (Decimal("4.00"), Decimal("0.00"))
    # Paying an already paid bill is a no-op.
    assert services.pay_locally(user, bill.id).payment_status == services.PAID


def test_invoice_failure_marks_failed_notifies_and_never_undoes_a_payment(outbox):
    user = UserFactory(preferences={"email_events": ["payment.failed"]})
    bill = _closed_bill(user)
    failed = {
        "id": "evt_fail_1",
        "type": "invoice.payment_failed",
        "created": 1,
        "data": {"object": {"id": "in_1", "metadata": {"bill_id": str(bill.id)}}},
    }
    assert process_event(failed, "stripe") is True
    assert bill.payment_status == services.FAILED
    note = db.session.query(Notification).filter_by(user_id=user.id).one()
    assert note.title == "Payment failed" and note.link == f"/billing/{bill.id}"
    db.session.commit()  # mail leaves with the commit
    assert [m.subject for m in outbox()] == ["Quantum Hub: Payment failed"]
    assert process_event(failed, "stripe") is False  # replay: no second effect
    paid = {**failed, "id": "evt_paid_1", "type": "invoice.paid"}
    paid["data"] = {"object": {"id": "in_1", "metadata": {"bill_id": str(bill.id)},
                               "hosted_invoice_url": "https://pay.example/in_1"}}  # fmt: skip
    process_event(paid, "stripe")
    assert bill.payment_status == services.PAID and bill.invoice_url.endswith("in_1")
    late_failure = {**failed, "id": "evt_fail_2"}
    process_event(late_failure, "stripe")
    assert bill.payment_status == services.PAID


def test_other_users_bills_and_bad_ids_are_not_found():
    owner, other = UserFactory(), UserFactory()
    bill = _closed_bill(owner)
    with pytest.raises(NotFound):
        services.get_bill(other, bill.id)
    with pytest.raises(NotFound):
        services.get_bill(owner, "not-a-uuid")


def test_invoice_pdf_has_seller_buyer_period_lines_totals_and_currency():
    user = UserFactory(full_name="Ada Lovelace")
    day = _last_month_day()
    completed_job(user, "1.25", finished_at=day, name="ghz-run")
    subscription(user, rate="19.00", start=day)
    bill = db.session.get(UserBill, services.close_period().bill_ids[0])
    data = pdf.render_invoice(bill, user, compress=False)
    assert data.startswith(b"%PDF")
    # Uncompressed text streams hold the strings as written, parentheses escaped.
    text = data.decode("latin-1").replace("\\(", "(").replace("\\)", ")")
    for expected in (
        "Quantum Hub",  # seller
        "Ada Lovelace",
        user.email,
        f"Period: {bill.period_start:%Y-%m-%d} to {bill.period_end:%Y-%m-%d}",
        "Job ghz-run on",
        "monthly subscription",
        "1.25",
        "19.00",
        "Total (USD)",
        "20.25",
        "Currency: USD",
        pdf.invoice_number(bill),
    ):
        assert expected in text, expected


def test_a_late_job_for_an_unclosed_earlier_month_lands_on_that_months_bill():
    user = UserFactory()
    job = completed_job(user, "1.00", finished_at=_last_month_day())
    services.current_bill(user)
    item = db.session.query(BillingItem).filter_by(job_id=job.id).one()
    assert item.bill.period_start == services.previous_period()[0]
    assert item.bill.closed_at is None


def test_bill_of_unknown_invoice_is_ignored():
    bill = _closed_bill(UserFactory())
    for bill_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        services.on_invoice_paid({"id": "in_x", "metadata": {"bill_id": bill_id}}, utcnow())
    assert bill.payment_status == services.PENDING
    assert bill.paid_amount == Decimal("0.00")
