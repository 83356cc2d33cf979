"""Browser-test helpers for the journeys: an inline-jobs live server, an accessibility check
with the vendored axe-core, screenshots for the README tour, registration and sign-in helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import portal.models  # noqa: F401 - every model mapped before any app is built
from portal import create_app
from tests.conftest import make_config, serve
from tests.factories.accounts import DEFAULT_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE_PATH = "/static/vendor/axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session")
def inline_live_app():
    """CSRF on, as in production, and no Redis: jobs run inline in the request (the embedded
    mode), so a journey's jobs complete without a worker process."""
    return create_app(make_config(WTF_CSRF_ENABLED=True, REDIS_URL=None))


@pytest.fixture
def inline_live_server(inline_live_app, committed_db):
    with serve(inline_live_app) as server:
        yield server


class Accessibility:
    """``check(page, name)`` runs axe-core on the current page and records its serious and
    critical violations; the journey asserts ``violations == []`` at the end, so one run
    lists every page's problems at once."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Loaded by URL from the portal itself, so the strict CSP (script-src 'self')
            # allows it without being weakened for the test.
            origin = page.evaluate("location.origin")
            page.add_script_tag(url=origin + AXE_PATH)
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ["violations"]});
                return r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
                }));
            }"""
        )
        self.pages.append(name)
        for v in result:
            if v["impact"] in BLOCKING_IMPACTS:
                self.violations.append(
                    f"{name}: [{v['impact']}] {v['id']} — {v['help']} at {v['targets']}"
                )


@pytest.fixture
def a11y() -> Accessibility:
    return Accessibility()


@pytest.fixture
def screenshot(tmp_path):
    """``screenshot(page, name)`` takes a 1280x800 screenshot (the viewport, not the full
    page, so the README images stay small). With QH_SCREENSHOTS=1 (``make screenshots``) it
    replaces docs/screenshots/<name>.png; otherwise it goes to a temporary folder, so a test
    run never changes tracked files."""
    folder = SCREENSHOTS if os.environ.get("QH_SCREENSHOTS") == "1" else tmp_path

    def take(page: Page, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), animations="disabled")
        assert path.stat().st_size > 10_000, f"{name}.png looks empty"

    return take


def sign_in(page: Page, base: str, login: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in by the form, as a person does, and wait for the signed-in page to settle."""
    page.wait_for_load_state("networkidle")  # leaving a loading page aborts its requests
    page.goto(base + "/login")
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(login)
    page.wait_for_load_state("networkidle")


def register_and_verify(page: Page, username: str, full_name: str, password: str) -> None:
    """Fill in the open registration form, then confirm the address from the development
    outbox, as a new user does."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    page.get_by_role("link", name="development outbox").click()
    message = page.get_by_test_id("outbox-message").filter(has_text="Confirm your Quantum Hub")
    message.locator('a[href*="/verify/"]').click()
    expect(page.locator(".flash-success")).to_contain_text("confirmed")


def goto(page: Page, url: str) -> None:
    """Navigate once the current page has finished loading (its icon and scripts too)."""
    page.wait_for_load_state("networkidle")
    page.goto(url)
