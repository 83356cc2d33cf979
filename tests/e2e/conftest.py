"""Browser-test helpers for the journeys: a live server with a real worker process (the set-up
``make run`` starts), an accessibility check with the vendored axe-core, screenshots for the
README tour, registration and sign-in helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import portal.models  # noqa: F401 - every model mapped before any app is built
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.worker_process import start_worker  # noqa: F401 - fixture for the e2e tests

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE_PATH = "/static/vendor/axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}
# How long a page may take to show a job's next state (ms). Generous: the worker process
# imports Qiskit when it starts, and two cores are shared with the browser and the server.
JOB_TIMEOUT = 90_000


@pytest.fixture
def worker_live_server(live_server, start_worker):  # noqa: F811 - the imported fixture
    """The ``make run`` set-up: the live app (CSRF on, REDIS_URL set, so jobs go on the queue)
    served from a thread, plus one real ``flask worker`` process on the same PostgreSQL and
    Redis. Jobs complete asynchronously: a test waits on the page for the status to change
    (``expect(...).to_have_text(..., timeout=JOB_TIMEOUT)``). ``server.worker`` is the
    process. Tests that need a job to wait in the queue use ``live_server`` and
    ``start_worker`` themselves."""
    live_server.worker = start_worker()
    yield live_server


PHONE = {"width": 390, "height": 844}


def _address(url: str) -> str:
    """A page's address without its fragment (``#pricing`` is the same page)."""
    return url.split("#", 1)[0]


class Accessibility:
    """``check(page, name)`` runs axe-core on the current page twice: at the width the test
    has set (desktop) and again at phone width (390 x 844), then restores the viewport. It
    records serious and critical violations; the journey asserts ``violations == []`` at the
    end, so one run lists every page's problems at once, at both widths.

    ``watch(page)`` records every address the page's main frame shows from then on (loads,
    redirects' ends and history pushes); ``unchecked()`` lists those no ``check`` ran on, so
    a journey proves it checked every page it visited."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.pages: list[str] = []
        self.visited: list[str] = []
        self.checked: set[str] = set()

    def watch(self, page: Page) -> None:
        def seen(frame) -> None:
            if frame == page.main_frame and frame.url.startswith("http"):
                address = _address(frame.url)
                if address not in self.visited:
                    self.visited.append(address)

        page.on("framenavigated", seen)

    def unchecked(self) -> list[str]:
        return [address for address in self.visited if address not in self.checked]

    def check(self, page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        self.checked.add(_address(page.url))
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Loaded by URL from the portal itself, so the strict CSP (script-src 'self')
            # allows it without being weakened for the test.
            origin = page.evaluate("location.origin")
            page.add_script_tag(url=origin + AXE_PATH)
        viewport = page.viewport_size
        self._run(page, f"{name} at {viewport['width']}px" if viewport else name)
        if viewport and viewport["width"] != PHONE["width"]:
            page.set_viewport_size(PHONE)
            try:
                self._run(page, f"{name} at {PHONE['width']}px")
            finally:
                page.set_viewport_size(viewport)

    def _run(self, page: Page, name: str) -> None:
        # A resize reflows synchronously; two animation frames let resize observers and
        # media-query listeners (the menu button) settle before axe reads the page.
        result = page.evaluate(
            """async () => {
                await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
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

    def take(page: Page, name: str, scroll_to: str | None = None) -> None:
        """``scroll_to``: a CSS selector the picture starts at (else the top of the page)."""
        folder.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")
        if scroll_to:
            page.locator(scroll_to).first.evaluate("el => el.scrollIntoView({block: 'start'})")
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), animations="disabled")
        assert path.stat().st_size > 10_000, f"{name}.png looks empty"

    return take


def sign_in(
    page: Page,
    base: str,
    login: str,
    password: str = DEFAULT_PASSWORD,
    a11y: Accessibility | None = None,
) -> None:
    """Sign in by the form, as a person does, and wait for the signed-in page to settle.
    With ``a11y`` the sign-in form and the page it leads to are checked too."""
    page.wait_for_load_state("networkidle")  # leaving a loading page aborts its requests
    page.goto(base + "/login")
    if a11y:
        a11y.check(page, "sign in")
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(login)
    page.wait_for_load_state("networkidle")
    if a11y:
        a11y.check(page, "signed in")


def register_and_verify(
    page: Page, username: str, full_name: str, password: str, a11y: Accessibility | None = None
) -> None:
    """Fill in the open registration form, then confirm the address from the development
    outbox, as a new user does. With ``a11y`` each page on the way is checked too."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    if a11y:
        a11y.check(page, "check your e-mail")
    page.get_by_role("link", name="development outbox").click()
    message = page.get_by_test_id("outbox-message").filter(has_text="Confirm your Quantum Hub")
    if a11y:
        a11y.check(page, "development outbox")
    message.locator('a[href*="/verify/"]').click()
    expect(page.locator(".flash-success")).to_contain_text("confirmed")
    if a11y:
        a11y.check(page, "address confirmed")


def goto(page: Page, url: str) -> None:
    """Navigate once the current page has finished loading (its icon and scripts too)."""
    page.wait_for_load_state("networkidle")
    page.goto(url)
