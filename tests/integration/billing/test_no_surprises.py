"""Issue 22 item 5: a trial is free, plan runs carry no device fee (the cards say so), and
every bill line's quantity x unit price is its amount at the precision shown (page and PDF)."""

import re
from decimal import Decimal

from portal.billing import pdf, services
from portal.billing.models import BillingItem
from portal.core.extensions import db
from portal.execution.models import Job, JobStatus
from portal.execution.pricing import run_fee
from portal.execution.runner import run_job
from portal.marketplace import runs, subscriptions
from portal.marketplace.models import SubscriptionType
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job
from tests.factories.marketplace import listed_app, paid_subscription, simulator


def _run(user, sub):
    job = runs.run_app(user, sub)
    assert job.estimated_cost == Decimal("0.00")
    db.session.commit()
    assert run_job(job.id, worker=True) is JobStatus.COMPLETED
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_a_trial_run_is_free_and_bills_nothing(committed_db):
    simulator()
    listing = listed_app()
    user = UserFactory()
    sub = subscriptions.start_trial(user, listing)
    job = _run(user, sub)
    assert job.actual_cost == Decimal("0.00")
    bill = services.current_bill(user)
    assert services.bill_total(bill) == Decimal("0.00") and bill.items == []


def test_a_monthly_plan_costs_its_price_and_nothing_per_run(committed_db):
    simulator()
    listing = listed_app(price="4.99")
    user = UserFactory()
    sub = paid_subscription(listing, user, plan=SubscriptionType.MONTHLY)
    job = _run(user, sub)
    assert job.actual_cost == Decimal("0.00")
    bill = services.current_bill(user)
    assert [i.kind for i in bill.items] == ["subscription"]
    assert services.bill_total(bill) == Decimal("4.99")


def test_a_run_outside_a_plan_still_pays_the_device_fee():
    assert run_fee(Decimal("0.02"), None) == Decimal("0.02")
    assert run_fee(Decimal("0.02"), "a-subscription-id") == Decimal("0.00")


def test_pricing_cards_state_the_device_fee(client):
    simulator()
    listing = listed_app()
    html = client.get(f"/marketplace/{listing.id}").get_data(as_text=True)
    assert "No device fees: the trial costs nothing." in html
    assert html.count("Device fees included: runs cost nothing beyond this price.") == 3


def test_job_lines_multiply_out_on_the_page_and_in_the_pdf(client, login_as):
    user = UserFactory()
    job = completed_job(user, "0.02", shots=1024)  # 1024 x 0.00001 + 0.01 per job
    bill = services.current_bill(user)
    [line] = bill.items
    assert (line.quantity, line.unit_price, line.amount) == (1, Decimal("0.02"), Decimal("0.02"))
    assert "1024 shots" in line.description and job.id == line.job_id
    login_as(user)
    html = client.get(f"/billing/{bill.id}").get_data(as_text=True)
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert cells[:3] == ["1", "0.02", "0.02"]
    text = pdf.render_invoice(bill, user, compress=False).decode("latin-1")
    assert "Td (1) Tj" in text and text.count("Td (0.02) Tj") >= 2
    assert "Td (1024) Tj" not in text


def test_lines_stored_as_shots_show_as_one_run():
    user = UserFactory()
    bill = services.current_bill(user)
    old = BillingItem(
        bill_id=bill.id, description="Job bell: 1024 shots x 0.00001 + 0.01 per job",
        amount=Decimal("0.02"), quantity=1024, unit_price=Decimal("0.00001"), kind="job",
    )  # fmt: skip
    usage = BillingItem(
        bill_id=bill.id, description="runs", amount=Decimal("0.70"), quantity=2,
        unit_price=Decimal("0.35"), kind="usage",
    )  # fmt: skip
    db.session.add_all([old, usage])
    db.session.flush()
    for item in (old, usage):
        quantity, unit = services.line_columns(item)
        assert services.line_amount(quantity, Decimal(unit)) == item.amount
    assert services.line_columns(old) == (1, "0.02")
    assert services.line_columns(usage) == (2, "0.35")
