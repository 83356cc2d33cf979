"""Notifications in a real browser: the bell's unread badge, marking read over HTMX, and
the badge following without a page reload."""

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.notifications.services import notify
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def test_badge_and_mark_read_without_reload(live_server, page, console_errors):
    user = UserFactory(username="nina")
    for title in ("Job completed", "Budget warning"):
        notify(user.id, title, f"{title} text")
    db.session.commit()
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or e-mail").fill("nina")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("unread-count")).to_have_text("2")

    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_test_id("notification")).to_have_count(2)
    page.evaluate("window.__noReload = true")
    page.get_by_test_id("notification").filter(has_text="Budget warning").get_by_role(
        "button", name="Mark read"
    ).click()
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark read")).to_have_count(0)
    assert page.evaluate("window.__noReload") is True
    assert console_errors == []
