"""Issue 22 items 4-6 in Chromium: the provider role offered before the release form and at
sign-up; pricing cards that state every fee and bill lines that multiply out; the admin home
and its pages. Each page is checked with axe-core and must log no console error."""

import re

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role, User
from portal.billing import services as billing
from portal.core.extensions import db
from portal.execution.models import JobStatus
from tests.e2e.conftest import sign_in
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import JobFactory
from tests.factories.marketplace import listed_app, simulator
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
    a11y.check(page, "bill")
    assert a11y.violations == [], a11y.violations
    assert console_errors == []


def test_admin_home_jobs_revenue_and_queue(live_server, page, console_errors, a11y):
    UserFactory(username="root", admin=True)
    alice = UserFactory(username="alice")
    JobFactory(user=alice, status=JobStatus.QUEUED, device_id="aer-simulator", name="waiting")
    JobFactory(user=alice, status=JobStatus.FAILED, device_id="aer-simulator", name="broken")
    listing = listed_app(price="4.99")
    subscription(alice, app=listing.app, rate="4.99")
    billing.current_bill(alice)
    db.session.commit()

    sign_in(page, live_server.url, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Admin")
    expect(page.get_by_test_id("queued-count")).to_have_text("1")
    a11y.check(page, "admin home")

    page.get_by_role("main").get_by_role("link", name="All jobs").first.click()
    expect(page.get_by_test_id("admin-job-row")).to_have_count(2)
    page.get_by_label("State").select_option("FAILED")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("admin-job-row")).to_have_count(1)
    expect(page.get_by_test_id("admin-job-row")).to_contain_text("broken")
    a11y.check(page, "admin jobs")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Revenue").click()
    expect(page.get_by_test_id("revenue-by-app")).to_contain_text(listing.app.name)
    expect(page.get_by_test_id("revenue-by-provider")).to_contain_text("4.99")
    a11y.check(page, "admin revenue")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Queue health").click()
    expect(page.get_by_test_id("running-count")).to_have_text("0")
    a11y.check(page, "admin queue")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    expect(page.get_by_text(re.compile(r"^\d+ users\.$"))).to_be_visible()
    rows = page.get_by_test_id("user-row").count()
    expect(page.get_by_text(f"{rows} users.")).to_be_visible()
    a11y.check(page, "admin users")
    assert a11y.violations == [], a11y.violations
    assert console_errors == []
