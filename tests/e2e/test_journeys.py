"""Whole journeys in a real browser, one test each, as the portal's users walk them:

- a developer signs up, becomes a provider, writes, runs, fixes, builds and releases a
  program, publishes it to the Registry and the Marketplace and reads the dashboard;
- a consumer finds an app on the Marketplace, tries it with a key (from the page and over
  the API), subscribes through the test checkout, pays the bill and reviews the app;
- an admin reads users, jobs and revenue and deactivates a user, who can no longer sign in.

Each journey fails on any console error or failed request, runs axe-core on every page it
visits, at desktop and at phone width (no serious or critical violations; ``a11y.watch``
records every address the browser showed and the journey fails on one never checked), and
takes the README tour's screenshots. Jobs go on the queue and a real worker process runs them
(``worker_live_server``, as ``make run``): the pages show them finishing without a reload.
"""

import re

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from tests.e2e.conftest import JOB_TIMEOUT, goto, register_and_verify, sign_in
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PHONE = {"width": 390, "height": 844}


def assert_fits_phone(page, name: str) -> None:
    """At phone width the page (the nav included) wraps instead of scrolling sideways."""
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at 390px wide"
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})


def test_developer_journey(worker_live_server, page, console_errors, outbox, a11y, screenshot):
    from portal.execution.catalogue import ensure_catalogue

    ensure_catalogue()
    db.session.commit()
    base = worker_live_server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    a11y.watch(page)

    # Home, then sign up.
    page.goto(base + "/")
    expect(page).to_have_title(re.compile("Quantum Hub"))
    a11y.check(page, "home")
    screenshot(page, "home")
    assert_fits_phone(page, "home")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_title("Create an account · Quantum Hub")
    a11y.check(page, "register")
    # Verify from the development outbox, then sign in.
    register_and_verify(page, "dirac", "Paul Dirac", "Bra-Ket-Notation-1939", a11y)
    sign_in(page, base, "dirac", "Bra-Ket-Notation-1939", a11y=a11y)

    # Become a provider.
    goto(page, base + "/become-provider")
    a11y.check(page, "become provider")
    page.get_by_label(re.compile("I will publish only code")).check()
    page.get_by_role("button", name="Become a provider").click()
    expect(page.get_by_test_id("provider-status")).to_be_visible()
    a11y.check(page, "provider status")

    # A new project from the GHZ template.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.get_by_text("No projects yet")).to_be_visible()
    a11y.check(page, "projects (empty)")
    page.get_by_role("button", name="Create your first project").click()
    a11y.check(page, "new project")
    page.get_by_label("Name", exact=True).fill("GHZ lab")
    page.get_by_label(re.compile("GHZ state")).check()
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_title("GHZ lab · IDE · Quantum Hub")
    editor = page.get_by_role("textbox", name="Source of main.qasm")
    expect(editor).to_contain_text("cx q[3], q[4];")
    save_state = page.get_by_test_id("save-state")

    # Edit: a barrier before the measurement; autosave catches up.
    page.locator(".cm-line", has_text="measure q -> c;").click()
    page.keyboard.press("Home")
    page.keyboard.type("barrier q;\n")
    expect(save_state).to_have_text("Saved")
    expect(page.get_by_test_id("res-gates")).to_contain_text("barrier\u00d71")

    # Run on the simulator.
    page.get_by_label("Shots").fill("500")
    page.get_by_role("button", name=re.compile("^Run")).click()
    output = page.get_by_test_id("run-output")
    expect(output.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    expect(output.get_by_test_id("histogram").locator('[data-state="11111"]')).to_be_visible()
    a11y.check(page, "IDE")
    screenshot(page, "ide")

    # An error, marked at its line, then fixed.
    page.locator(".cm-line", has_text="barrier q;").click()
    page.keyboard.press("End")
    page.keyboard.type("\nfoo q[0];")
    expect(page.get_by_test_id("diagnostics")).to_contain_text("Line 13")
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    page.keyboard.press("Control+s")
    expect(save_state).to_have_text("Saved")

    # Build, then release as a public app.
    page.get_by_role("button", name="Build and validate").click()
    expect(page.get_by_test_id("build-result")).to_contain_text("Version 0.1.0 built")
    page.get_by_label("App name").fill("GHZ Explorer")
    page.get_by_label("Visibility").select_option("PUBLIC")
    page.get_by_label("Licence").select_option("APACHE_2_0")
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.get_by_test_id("release-result")).to_contain_text("Released GHZ Explorer 0.1.0")
    a11y.check(page, "IDE (built and released)")
    page.get_by_test_id("app-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("GHZ Explorer")
    a11y.check(page, "my app")

    # Publish to the Registry.
    page.get_by_role("button", name="Publish to the Registry").click()
    expect(page.locator(".flash-success")).to_contain_text("Published to the Registry")
    a11y.check(page, "my app (in the Registry)")

    # Publish to the Marketplace.
    page.get_by_role("button", name="Sell on the Marketplace").click()
    a11y.check(page, "sell on the marketplace")
    page.get_by_label("Monthly price").fill("12.50")
    page.get_by_label("Support e-mail").fill("dirac@example.com")
    page.get_by_role("button", name="Publish to the Marketplace").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("GHZ Explorer")
    expect(page.get_by_test_id("listing-status")).to_have_text("ACTIVE")
    a11y.check(page, "listing (provider)")

    # Someone else finds it in the Registry, reads it and downloads it; another subscribes.
    page.context.clear_cookies()
    goto(page, base + "/registry/")
    a11y.check(page, "registry")
    screenshot(page, "registry")
    page.get_by_role("link", name="GHZ Explorer").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("GHZ Explorer")
    a11y.check(page, "registry app page")
    screenshot(page, "app-page")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download")).first.click()
    assert download.value.suggested_filename.endswith(".zip")
    _someone_subscribes_to("GHZ Explorer")

    # The provider dashboard shows the view, the download and the subscription.
    sign_in(page, base, "dirac", "Bra-Ket-Notation-1939", a11y=a11y)
    goto(page, base + "/dashboard/provider")
    row = page.get_by_test_id("app-stats").locator("tbody tr").filter(has_text="GHZ Explorer")
    cells = row.locator("td")
    expect(cells.nth(1)).not_to_have_text("0")  # views
    expect(cells.nth(2)).to_have_text("1")  # downloads
    expect(cells.nth(3)).to_have_text("1")  # subscribers
    expect(page.get_by_test_id("total-subscriptions")).to_have_text("1")
    a11y.check(page, "provider dashboard")
    screenshot(page, "provider-dashboard")
    assert_fits_phone(page, "provider dashboard")

    page.wait_for_load_state("networkidle")
    assert console_errors == []
    assert not a11y.violations, "\n".join(a11y.violations)
    assert a11y.unchecked() == [], "pages visited without axe-core"


def _someone_subscribes_to(app_name: str) -> None:
    """Another consumer starts a trial (seeded: that part is the consumer's journey)."""
    import sqlalchemy as sa

    from portal.apps.models import QuantumApp
    from portal.marketplace import listings, subscriptions

    app = db.session.execute(sa.select(QuantumApp).filter_by(name=app_name)).scalar_one()
    subscriptions.start_trial(UserFactory(username="early-bird"), listings.listing_for_app(app.id))
    db.session.commit()


def test_consumer_journey(worker_live_server, page, console_errors, a11y, screenshot):
    from tests.factories.marketplace import listed_app, simulator

    simulator()
    listed_app(
        name="Bell Sampler",
        description="Samples a Bell pair: half 00, half 11.",
        trial_usage_limit=3,
        paid_usage_limit=100,
    )
    listed_app(name="Grover Search", description="Finds a marked item in √N steps.")
    listed_app(name="Phase Estimator", description="Estimates an eigenphase to n bits.")
    UserFactory(username="ada", full_name="Ada Lovelace")
    db.session.commit()
    base = worker_live_server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    a11y.watch(page)
    sign_in(page, base, "ada", a11y=a11y)

    # Browse the Marketplace and read an app.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Marketplace").click()
    expect(page.get_by_test_id("listing-card")).to_have_count(3)
    a11y.check(page, "marketplace")
    screenshot(page, "marketplace")
    assert_fits_phone(page, "marketplace")
    page.get_by_label("Search").press_sequentially("bell")  # results follow the typing
    card = page.get_by_test_id("listing-card").filter(has_text="Bell Sampler")
    expect(page.get_by_test_id("listing-card")).to_have_count(1)
    a11y.check(page, "marketplace (searched)")
    card.get_by_role("link", name="Bell Sampler").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bell Sampler")
    expect(page.get_by_test_id("preview-program")).to_contain_text("OPENQASM")
    a11y.check(page, "listing")
    screenshot(page, "marketplace-listing")

    # Start the trial and get a key.
    page.get_by_role("button", name="Start free trial").click()
    expect(page.get_by_test_id("subscription-status")).to_have_text("ACTIVE")
    expect(page.get_by_test_id("usage-left")).to_have_text("3 of 3 runs")
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").input_value()
    assert key.startswith("qhs_")
    a11y.check(page, "subscription")
    subscription_url = page.url

    # Run a job from the page: the result and its histogram open.
    page.get_by_label("Shots").fill("400")
    page.get_by_test_id("run-app").click()
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    expect(page.get_by_test_id("histogram").locator("rect")).to_have_count(2)
    a11y.check(page, "job detail")
    screenshot(page, "job-detail")

    # And over the API with the key.
    response = page.request.post(
        base + "/api/v1/jobs",
        data={"inputs": {}, "device": "aer-simulator", "shots": 100},
        headers={"X-API-Key": key},
    )
    assert response.status == 201, response.text()
    goto(page, subscription_url)
    expect(page.get_by_test_id("usage-left")).to_have_text("1 of 3 runs")
    a11y.check(page, "subscription (two runs used)")

    # Subscribe monthly through the test-payment checkout.
    page.get_by_role("button", name="Upgrade to a paid plan").click()
    expect(page.get_by_role("button", name="Subscribe monthly")).to_be_visible()
    a11y.check(page, "listing (pricing, on a trial)")
    page.get_by_role("button", name="Subscribe monthly").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    a11y.check(page, "checkout")
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_test_id("subscription-status")).to_have_text("ACTIVE")
    expect(page.get_by_test_id("usage-left")).to_have_text("100 of 100 runs")
    a11y.check(page, "subscription (paid)")

    # The bill: the subscription and the jobs' lines; the invoice downloads as a PDF.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    a11y.check(page, "billing")
    page.get_by_role("link", name="See this month's lines").click()
    lines = page.get_by_test_id("bill-line")
    expect(lines.filter(has_text="Bell Sampler: monthly subscription")).to_contain_text("19.00")
    # The two trial runs (from the page and over the API) cost nothing: the plan is all.
    expect(page.get_by_test_id("bill-total")).to_have_text("19.00")
    a11y.check(page, "bill")
    screenshot(page, "billing")
    assert_fits_phone(page, "bill")
    with page.expect_download() as info:
        page.get_by_test_id("download-invoice").click()
    with open(info.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"

    # Leave a review: the rating changes.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Marketplace").click()
    expect(page.get_by_test_id("listing-card")).to_have_count(3)
    a11y.check(page, "marketplace (subscribed)")
    page.get_by_role("link", name="Bell Sampler").click()
    expect(page.get_by_label("★★★★★ 5")).to_be_visible()
    a11y.check(page, "listing (subscribed, review form)")
    page.get_by_label("★★★★★ 5").check()
    page.get_by_label("Title").fill("Does what it says")
    page.get_by_label("Review", exact=True).fill("Ran first time, from the page and the API.")
    page.get_by_role("button", name="Post review").click()
    expect(page.get_by_test_id("rating-value")).to_have_text("5.00")
    expect(page.get_by_test_id("review").first).to_contain_text("Does what it says")
    a11y.check(page, "listing with a review")

    page.wait_for_load_state("networkidle")
    assert console_errors == []
    assert not a11y.violations, "\n".join(a11y.violations)
    assert a11y.unchecked() == [], "pages visited without axe-core"


def test_admin_journey(worker_live_server, page, console_errors, a11y, screenshot):
    from portal.billing.services import current_bill
    from portal.execution.catalogue import ensure_catalogue
    from portal.execution.models import JobStatus
    from tests.factories.billing import completed_job, subscription
    from tests.factories.execution import JobFactory

    ensure_catalogue()
    UserFactory(username="root", admin=True)
    mallory = UserFactory(username="mallory", full_name="Mallory Martin")
    customer = UserFactory(username="bob")
    subscription(customer, rate="19.00")
    completed_job(customer, cost="0.40")
    completed_job(customer, cost="0.60")
    JobFactory(user=customer, status=JobStatus.QUEUED)
    JobFactory(user=mallory, status=JobStatus.FAILED, failure_reason="Device offline")
    current_bill(customer)  # the month's lines: revenue the admin sees
    db.session.commit()
    base = worker_live_server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    a11y.watch(page)

    # Users, jobs by state and revenue on the portal dashboard.
    sign_in(page, base, "root", a11y=a11y)
    goto(page, base + "/dashboard/admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Portal")
    expect(page.get_by_test_id("users-total")).to_have_text("4")  # with the app's provider
    states = page.locator("table").filter(has=page.get_by_role("rowheader", name="completed"))
    expect(states.get_by_role("row", name=re.compile("^completed"))).to_contain_text("2")
    expect(states.get_by_role("row", name=re.compile("^queued"))).to_contain_text("1")
    expect(states.get_by_role("row", name=re.compile("^failed"))).to_contain_text("1")
    expect(page.get_by_test_id("admin-revenue")).to_have_text("20.00 USD")
    a11y.check(page, "admin dashboard")
    assert_fits_phone(page, "admin dashboard")

    # The admin home links the admin's pages and shows the queue's health.
    goto(page, base + "/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Admin")
    a11y.check(page, "admin home")
    screenshot(page, "admin-home")

    # A device drawn with its real topology and calibration.
    goto(page, base + "/devices")
    a11y.check(page, "devices")
    page.get_by_role("link", name="falcon-27-noisy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("falcon-27-noisy")
    a11y.check(page, "device page")
    screenshot(page, "devices", scroll_to="svg.connectivity")  # the map in the tour

    # The other everyday pages pass the same accessibility check.
    paths = ("/jobs", "/jobs/new", "/settings", "/api-keys", "/notifications",
             "/admin/jobs", "/admin/revenue", "/admin/queue")  # fmt: skip
    for path in paths:
        goto(page, base + path)
        a11y.check(page, path)

    # Deactivate a user (confirmed); they are refused at sign-in.
    goto(page, base + "/admin/users")
    a11y.check(page, "admin users")
    row = page.get_by_test_id("user-row").filter(has_text="mallory")
    row.get_by_role("button", name="Deactivate").click()
    expect(row.get_by_test_id("user-status")).to_have_text("Deactivated")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    a11y.check(page, "signed out")
    page.goto(base + "/login")
    a11y.check(page, "sign in (signed out)")
    page.get_by_label("Username or e-mail").fill("mallory")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("deactivated")
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    expect(page.get_by_label("Username or e-mail")).to_have_value("mallory")  # input kept
    a11y.check(page, "sign-in refused")

    page.wait_for_load_state("networkidle")
    # The refused sign-in answers 401 by design, which Chromium logs; nothing else may fail.
    expected = "Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"
    assert console_errors.count(expected) == 1
    console_errors.remove(expected)
    assert console_errors == []
    assert not a11y.violations, "\n".join(a11y.violations)
    assert a11y.unchecked() == [], "pages visited without axe-core"
