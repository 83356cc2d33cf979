"""Execution in a real browser: submit a circuit from the page, watch it reach COMPLETED
with a histogram without reloading; the device pages draw their connectivity.

The live server has QH_REDIS_URL set (as in production and ``make run``), so this test starts
a real ``flask worker`` process on the same database and Redis once the job is queued."""

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.factories.accounts import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_submit_and_watch_a_job_complete(live_server, page, console_errors, start_worker):
    ensure_catalogue()
    user = UserFactory(username="grover")
    db.session.commit()
    sign_in(page, live_server.url, "grover")

    page.goto(live_server.url + "/jobs")
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    page.get_by_role("button", name="Run your first circuit").click()
    expect(page.get_by_test_id("estimate")).to_contain_text("3 qubits")
    page.get_by_label("Shots").fill("2000")
    expect(page.get_by_test_id("estimate")).to_contain_text("$0.03 for 2000 shots")
    page.get_by_label("Device").select_option("falcon-27-noisy")
    expect(page.get_by_test_id("estimate")).to_contain_text("$0.30")
    page.get_by_label("Device").select_option("aer-simulator")
    page.get_by_test_id("run-job").click()

    expect(page.get_by_test_id("job-status")).to_have_text("QUEUED")
    page.evaluate("window.__noReload = true")
    start_worker()
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    expect(page.get_by_test_id("histogram").locator("rect")).to_have_count(2)
    assert page.evaluate("window.__noReload") is True  # updated in place by htmx
    expect(page.get_by_test_id("circuit-drawing")).to_contain_text("q_0")
    with page.expect_download() as info:
        page.get_by_test_id("download-result").click()
    assert info.value.suggested_filename.endswith(".json")

    page.goto(live_server.url + "/jobs")
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED")
    assert user.username == "grover"
    assert console_errors == []


def test_bad_program_shows_line_and_column(live_server, page, console_errors):
    ensure_catalogue()
    UserFactory(username="bob")
    db.session.commit()
    sign_in(page, live_server.url, "bob")
    page.goto(live_server.url + "/jobs/new")
    page.get_by_label("OpenQASM program").fill("OPENQASM 2.0;\nqreg q[1];\nh q[0]\n")
    expect(page.get_by_test_id("estimate-problem")).to_contain_text("line 3")
    page.get_by_test_id("run-job").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("line 3, column 1")
    assert console_errors == []


def test_device_pages_draw_connectivity(live_server, page, console_errors):
    ensure_catalogue()
    UserFactory(username="ada")
    db.session.commit()
    sign_in(page, live_server.url, "ada")
    page.goto(live_server.url + "/devices")
    page.get_by_role("link", name="falcon-27-noisy").click()
    svg = page.locator("svg.connectivity")
    expect(svg.locator("circle")).to_have_count(27)
    expect(svg.locator("line")).to_have_count(28)
    assert console_errors == []
