"""Accounts in a real browser: register → verify from the outbox → sign in → API key used
against the API → revoked and refused; profile, settings and the admin users page."""

import re

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from tests.e2e.conftest import register_and_verify, sign_in
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.e2e


def _goto(page, url):
    # Leaving a page while its scripts or icon still load aborts them, which the
    # console_errors fixture would (rightly) report; let the current page settle first.
    page.wait_for_load_state("networkidle")
    page.goto(url)


def test_register_verify_sign_in_and_use_an_api_key(live_server, page, console_errors, outbox):
    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    _goto(page, base + "/register")
    expect(page).to_have_title("Create an account · Quantum Hub")
    # The verification mail is opened from the development outbox.
    register_and_verify(page, "marie", "Marie Curie", "Radium-And-Polonium-1898")

    sign_in(page, base, "marie", "Radium-And-Polonium-1898")

    _goto(page, base + "/api-keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_label("Name").fill("notebook")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_test_id("new-key")
    expect(new_key).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_have_attribute("data-copy", "#new-key")
    raw = new_key.input_value()
    assert raw.startswith("qh_")
    row = page.get_by_test_id("key-row").filter(has_text="notebook")
    expect(row).to_have_attribute("data-status", "ACTIVE")

    me = page.request.get(base + "/api/v1/auth/me", headers={"X-API-Key": raw})
    assert me.status == 200 and me.json()["username"] == "marie"

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("key-row").filter(has_text="notebook")).to_have_attribute(
        "data-status", "REVOKED"
    )
    refused = page.request.get(base + "/api/v1/auth/me", headers={"X-API-Key": raw})
    assert refused.status == 401 and "revoked" in refused.json()["error"]["message"]
    page.wait_for_load_state("networkidle")
    assert console_errors == []


def test_profile_settings_and_sessions(live_server, page, console_errors):
    base = live_server.url
    user = UserFactory(username="lise", full_name="Lise Meitner")
    db.session.commit()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "lise")

    _goto(page, base + "/profile")
    expect(page.get_by_text("Your profile is empty")).to_be_visible()
    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("Organisation").fill("Kaiser Wilhelm Institute")
    page.get_by_label("Bio").fill("Nuclear fission.")
    page.get_by_label("Github").fill("https://github.com/lise")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_test_id("profile-organization")).to_have_text("Kaiser Wilhelm Institute")
    expect(page).to_have_url(base + "/profile")  # edited in place, no page load

    _goto(page, base + "/settings")
    page.get_by_label("Time zone (all dates are shown in it)").select_option("Asia/Tokyo")
    page.get_by_label("Default shots").fill("2048")
    page.get_by_label("job.completed").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.reload()
    expect(page.get_by_test_id("session-row").first).to_contain_text("JST")
    db.session.refresh(user)
    assert user.preferences["default_shots"] == 2048

    # Revoking this browser's own session signs it out.
    page.get_by_test_id("session-row").filter(has_text="this browser").get_by_role(
        "button", name="Revoke"
    ).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    _goto(page, base + "/settings")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.wait_for_load_state("networkidle")
    assert console_errors == []


def test_admin_users_page_search_deactivate_and_roles(live_server, page, console_errors):
    base = live_server.url
    UserFactory(username="boss", admin=True)
    target = UserFactory(username="niels", full_name="Niels Bohr")
    UserFactory(username="werner")
    db.session.commit()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "boss")

    _goto(page, base + "/admin/users")
    expect(page.get_by_test_id("user-row")).to_have_count(3)
    page.get_by_label("Search users").fill("bohr")
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    row = page.locator(f"#user-{target.id}")
    row.get_by_role("button", name="Deactivate").click()
    expect(page.locator(f"#user-{target.id}").get_by_test_id("user-status")).to_have_text(
        "Deactivated"
    )
    page.locator(f"#user-{target.id}").get_by_label("Provider").check()
    with page.expect_response(re.compile(r"/roles$")):
        page.locator(f"#user-{target.id}").get_by_role("button", name="Save roles").click()
    expect(page.locator(f"#user-{target.id}").get_by_label("Provider")).to_be_checked()
    db.session.refresh(target)
    assert target.is_active is False and target.is_provider is True
    page.wait_for_load_state("networkidle")
    assert console_errors == []


def test_become_provider(live_server, page, console_errors):
    base = live_server.url
    UserFactory(username="rosalind")
    db.session.commit()
    sign_in(page, base, "rosalind")
    _goto(page, base + "/become-provider")
    page.get_by_label(re.compile("I will publish only code")).check()
    page.get_by_role("button", name="Become a provider").click()
    expect(page.get_by_test_id("provider-status")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert console_errors == []
