"""Issue 22 items 4-6 in Chromium: the provider role offered before the release form and at
sign-up; pricing cards that state every fee and bill lines that multiply out; the admin home
and its pages. Each page is checked with axe-core and must log no console error."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role, User
from portal.billing import services as billing
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.models import JobStatus
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.e2e.test_live_jobs import BELL, submit_from_form
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import JobFactory
from tests.factories.marketplace import listed_app, paid_subscription, simulator
from tests.factories.projects import ProjectFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_provider_role_before_the_release_form_and_at_sign_up(
    live_server, page, console_errors, a11y
):
    developer = UserFactory(username="dev")
    project = ProjectFactory(user=developer, name="Bell lab")
    db.session.commit()

    sign_in(page, live_server.url, "dev")
    page.goto(f"{live_server.url}/projects/{project.id}")
    gate = page.get_by_test_id("release-gate")
    expect(gate).to_contain_text("needs the provider role")
    expect(page.locator("#release-form")).to_have_count(0)
    a11y.check(page, "IDE, not a provider")
    gate.get_by_label("I will publish only code I may share").check()
    gate.get_by_role("button", name="Become a provider").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.id}"))
    expect(page.locator("#release-form")).to_be_visible()
    expect(page.get_by_test_id("release-gate")).to_have_count(0)

    page.context.clear_cookies()
    page.goto(live_server.url + "/register")
    page.get_by_label("Username").fill("newpub")
    page.get_by_label("E-mail").fill("newpub@example.com")
    page.get_by_label("Password").fill("Compiler-Pioneer-1952")
    page.get_by_label("Yes, make me a provider too").check()
    a11y.check(page, "sign-up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Check your e-mail")).to_be_visible()
    db.session.expire_all()
    user = db.session.execute(db.select(User).filter_by(username="newpub")).scalar_one()
    assert user.has_role(Role.PROVIDER)
    assert a11y.violations == [], a11y.violations
    assert console_errors == []


def test_pricing_cards_state_fees_and_bill_lines_multiply_out(
    live_server, page, console_errors, a11y
):
    simulator()
    listing = listed_app(price="4.99")
    UserFactory(username="ada")
    db.session.commit()
    ada = db.session.execute(db.select(User).filter_by(username="ada")).scalar_one()
    completed_job(ada, "0.02", shots=1024, name="bell-1024")
    billing.current_bill(ada)
    db.session.commit()

    sign_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/marketplace/{listing.id}")
    expect(page.get_by_test_id("plan-TRIAL")).to_contain_text("No device fees")
    for plan in ("MONTHLY", "ANNUAL", "PAY_AS_YOU_GO"):
        expect(page.get_by_test_id(f"plan-{plan}")).to_contain_text("Device fees included")
    a11y.check(page, "listing pricing")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    page.get_by_role("link", name="See this month's lines").click()
    line = page.get_by_test_id("bill-line").filter(has_text="bell-1024")
    expect(line).to_contain_text("1024 shots")
    cells = line.locator("td.num")
    expect(cells).to_have_text(["1", "0.02", "0.02"])
    _lines_multiply_out(page)
    a11y.check(page, "bill")
    assert a11y.violations == [], a11y.violations
    assert console_errors == []


def _lines_multiply_out(page) -> Decimal:
    """Every bill line's quantity x unit price equals its amount at the precision shown, and
    the total is the sum of the lines; returns the total."""
    amounts = []
    for line in page.get_by_test_id("bill-line").all():
        quantity, unit, amount = (Decimal(t) for t in line.locator("td.num").all_inner_texts())
        assert (quantity * unit).quantize(amount) == amount, line.inner_text()
        amounts.append(amount)
    total = Decimal(page.get_by_test_id("bill-total").inner_text())
    assert sum(amounts) == total
    return total


def test_plan_runs_pay_no_device_fee_and_lines_multiply_out(
    worker_live_server, page, console_errors, a11y
):
    """A 4.99 monthly subscriber's run of the app adds no device fee (the issue's 5.01 on a
    4.99 plan); a plain circuit outside any plan still pays its device's fee, in a line
    that multiplies out."""
    simulator()
    listing = listed_app(price="4.99", name="Fee Check")
    ada = UserFactory(username="ada")
    sub = paid_subscription(listing, user=ada)
    db.session.commit()
    base = worker_live_server.url
    sign_in(page, base, "ada")

    page.goto(f"{base}/marketplace/subscriptions/{sub.id}")
    page.get_by_label("Shots").fill("1000")
    page.get_by_test_id("run-app").click()
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    submit_from_form(page, base, BELL, device="aer-simulator", shots=1000)
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)

    page.goto(base + "/billing")
    page.get_by_role("link", name="See this month's lines").click()
    lines = page.get_by_test_id("bill-line")
    expect(lines).to_have_count(2)  # the plan and the plain circuit: the app's run is free
    expect(lines.filter(has_text="Fee Check: monthly subscription")).to_contain_text("4.99")
    plain = lines.filter(has=page.locator('a:text-is("job")'))
    expect(plain).to_have_count(1)
    plain_amount = Decimal(plain.locator("td.num").nth(2).inner_text())
    assert plain_amount > 0
    assert _lines_multiply_out(page) == Decimal("4.99") + plain_amount
    a11y.check(page, "bill (a plan run and a plain run)")
    assert a11y.violations == [], a11y.violations
    assert console_errors == []


def test_admin_home_jobs_revenue_and_queue(live_server, page, console_errors, a11y):
    UserFactory(username="root", admin=True)
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    JobFactory(user=alice, status=JobStatus.QUEUED, device_id="aer-simulator", name="waiting")
    JobFactory(user=alice, status=JobStatus.FAILED, device_id="aer-simulator", name="broken")
    listing = listed_app(price="4.99", name="Sampler App")
    JobFactory(  # bob's run of the app, on another device
        user=bob,
        status=JobStatus.COMPLETED,
        device_id="falcon-27-noisy",
        name="app-run",
        app_version=listing.app.latest_version,
    )
    # Subscribed since last month: a month of revenue each, last month and this one.
    last_month, _ = billing.previous_period()
    subscription(alice, app=listing.app, rate="4.99", start=last_month - timedelta(days=3))
    billing.current_bill(alice, now=last_month + timedelta(days=2))
    billing.current_bill(alice)
    db.session.commit()

    sign_in(page, live_server.url, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Admin")
    expect(page.get_by_test_id("queued-count")).to_have_text("1")
    a11y.check(page, "admin home")

    page.get_by_role("main").get_by_role("link", name="All jobs").first.click()
    rows = page.get_by_test_id("admin-job-row")
    expect(rows).to_have_count(3)  # every user's jobs
    # Each filter (state, device, user, app) narrows the list to the job it names.
    for label, value, expected in (
        ("State", "FAILED", "broken"),
        ("Device", "falcon", "app-run"),
        ("User", "bob", "app-run"),
        ("App", "sampler", "app-run"),
    ):
        page.goto(live_server.url + "/admin/jobs")
        field = page.get_by_role("search", name="Filter jobs").get_by_label(label)
        if label == "State":
            field.select_option(value)
        else:
            field.fill(value)
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text(expected)
        expect(page.get_by_test_id("jobs-total")).to_have_text("1 job.")
    expect(rows).to_contain_text("Sampler App")
    a11y.check(page, "admin jobs")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Revenue").click()
    # Over time: one row per bill month, per app and per provider.
    months = [last_month.strftime("%Y-%m"), utcnow().strftime("%Y-%m")]
    for testid, name in (
        ("revenue-by-app", listing.app.name),
        ("revenue-by-provider", listing.app.developer.username),
    ):
        table_rows = page.get_by_test_id(testid).locator("tbody tr")
        expect(table_rows).to_have_count(2)
        for month in months:
            row = table_rows.filter(has_text=month)
            expect(row).to_contain_text(name)
            expect(row.locator("td.num")).to_have_text("4.99")
    a11y.check(page, "admin revenue")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Queue health").click()
    expect(page.get_by_test_id("queued-count")).to_have_text("1")
    expect(page.get_by_test_id("running-count")).to_have_text("0")
    expect(page.get_by_test_id("oldest-queued")).to_contain_text(" s")
    a11y.check(page, "admin queue")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    expect(page.get_by_text(re.compile(r"^\d+ users\.$"))).to_be_visible()
    rows = page.get_by_test_id("user-row").count()
    expect(page.get_by_text(f"{rows} users.")).to_be_visible()
    a11y.check(page, "admin users")
    assert a11y.violations == [], a11y.violations
    assert console_errors == []
