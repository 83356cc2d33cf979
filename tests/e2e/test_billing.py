"""Billing in a real browser: after running jobs and subscribing, the consumer sees the
lines of those jobs on this month's bill and downloads the PDF invoice; the provider's
dashboard shows the subscription and its revenue."""

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.runner import run_job
from portal.execution.submission import submit_job
from tests.e2e.conftest import sign_in
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory
from tests.factories.billing import subscription
from tests.factories.execution import BELL_QASM2

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_consumer_bill_and_invoice_then_provider_revenue(live_server, page, console_errors):
    ensure_catalogue()
    consumer = UserFactory(username="ada")
    provider = UserFactory(username="pat", provider=True)
    app = QuantumAppFactory(developer=provider, name="Phase Finder")
    subscription(consumer, app=app, rate="19.00")
    jobs = [
        submit_job(consumer, program=BELL_QASM2, device="aer-simulator", shots=shots, name=name)
        for name, shots in (("bell-1000", 1000), ("bell-2000", 2000))
    ]
    db.session.commit()
    for job in jobs:
        run_job(job.id)  # what the worker does
    db.session.expire_all()
    costs = [f"{db.session.get(type(j), j.id).actual_cost:.2f}" for j in jobs]

    sign_in(page, live_server.url, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    page.get_by_role("link", name="See this month's lines").click()
    lines = page.get_by_test_id("bill-line")
    expect(lines).to_have_count(3)
    for job, cost in zip(jobs, costs, strict=True):
        row = lines.filter(has_text=f"Job {job.name} on aer-simulator")
        expect(row).to_contain_text(str(job.shots))
        expect(row).to_contain_text(cost)
    expect(lines.filter(has_text="Phase Finder: monthly subscription")).to_contain_text("19.00")
    with page.expect_download() as info:
        page.get_by_test_id("download-invoice").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"

    page.context.clear_cookies()
    sign_in(page, live_server.url, "pat")
    page.goto(live_server.url + "/dashboard/provider")
    stats = page.get_by_test_id("app-stats")
    expect(stats).to_contain_text("Phase Finder")
    expect(page.get_by_test_id("total-subscriptions")).to_have_text("1")
    expect(page.get_by_test_id("total-revenue")).to_have_text("19.00 USD")
    expect(page.locator("svg.chart rect.bar").first).to_be_visible()
    assert console_errors == []
