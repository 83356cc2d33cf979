"""A consumer starts a trial, gets a key and runs a job with it; then subscribes through the
test-payment checkout, sees the subscription active with its usage reset; and leaves a
review that changes the listing's rating. The provider pauses the listing."""

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from tests.e2e.conftest import sign_in
from tests.factories.accounts import UserFactory
from tests.factories.marketplace import listed_app, simulator

pytestmark = pytest.mark.e2e


def test_trial_key_job_checkout_review(live_server, page, console_errors):
    base = live_server.url
    simulator()
    listing = listed_app(name="Bell Sampler", trial_usage_limit=3, paid_usage_limit=100)
    listing_id = listing.id
    UserFactory(username="buyer")
    db.session.commit()

    sign_in(page, base, "buyer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Marketplace").click()
    page.get_by_label("Search").fill("bell")
    card = page.get_by_test_id("listing-card").filter(has_text="Bell Sampler")
    card.get_by_role("link", name="Bell Sampler").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bell Sampler")
    expect(page.get_by_test_id("rating-count")).to_have_text("0")
    expect(page.get_by_test_id("try-request")).to_have_value(
        "curl -X POST " + base + "/api/v1/jobs \\\n"
        "  -H 'X-API-Key: <your subscription key>' -H 'Content-Type: application/json' \\\n"
        '  -d \'{"inputs":{},"device":"aer-simulator","shots":1024}\''
    )

    # Trial, key, job.
    page.get_by_role("button", name="Start free trial").click()
    expect(page.get_by_test_id("subscription-status")).to_have_text("ACTIVE")
    expect(page.get_by_test_id("usage-left")).to_have_text("3 of 3 runs")
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").input_value()
    assert key.startswith("qhs_")
    response = page.request.post(
        base + "/api/v1/jobs",
        data={"inputs": {}, "device": "aer-simulator", "shots": 100},
        headers={"X-API-Key": key},
    )
    assert response.status == 201, response.text()
    assert response.json()["subscription_id"]
    page.reload()
    expect(page.get_by_test_id("usage-left")).to_have_text("2 of 3 runs")
    expect(page.get_by_test_id("new-key")).to_have_count(0)  # shown once only

    # Subscribe monthly through the test-payment checkout.
    page.get_by_role("button", name="Upgrade to a paid plan").click()
    page.get_by_role("button", name="Subscribe monthly").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_test_id("checkout-amount")).to_contain_text("19.00 USD")
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_test_id("subscription-status")).to_have_text("ACTIVE")
    expect(page.get_by_test_id("usage-left")).to_have_text("100 of 100 runs")
    expect(page.locator("table").get_by_text("laptop")).to_be_visible()  # the key moved over

    # Review: the listing's rating changes.
    page.goto(f"{base}/marketplace/{listing_id}")
    page.get_by_label("★★★★ 4").check()
    page.get_by_label("Title").fill("Solid")
    page.get_by_label("Review", exact=True).fill("Ran first time.")
    page.get_by_role("button", name="Post review").click()
    expect(page.get_by_test_id("rating-value")).to_have_text("4.00")
    expect(page.get_by_test_id("rating-count")).to_have_text("1")
    expect(page.get_by_test_id("review").first).to_contain_text("Solid")
    page.wait_for_load_state("networkidle")
    assert console_errors == []


def test_provider_pauses_and_resumes(live_server, page, console_errors):
    base = live_server.url
    simulator()
    listing = listed_app(name="Pausable")
    listing.app.developer.username = "seller"
    listing_id = listing.id
    db.session.commit()

    sign_in(page, base, "seller")
    page.goto(f"{base}/marketplace/{listing_id}")
    page.wait_for_load_state("networkidle")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Pause sales").click()
    expect(page.get_by_test_id("listing-status")).to_have_text("PAUSED")
    page.get_by_role("button", name="Resume sales").click()
    expect(page.get_by_test_id("listing-status")).to_have_text("ACTIVE")
    page.wait_for_load_state("networkidle")
    assert console_errors == []
