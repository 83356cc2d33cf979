"""Issue 22 items 10-13 in a real browser: finding jobs, tags and bulk cancel; results to take
away; Open in IDE from the Registry; queue position, wait estimate, elapsed time and one
submission per click."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import Hardware, Job, JobStatus
from portal.projects.models import Project
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.e2e.test_live_jobs import BELL, DEVICE, deep_program
from tests.factories.accounts import UserFactory
from tests.factories.apps import registry_app
from tests.factories.execution import JobFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _hardware(name: str) -> Hardware:
    return db.session.execute(sa.select(Hardware).filter_by(name=name)).scalar_one()


def _statuses(user_id) -> dict[str, JobStatus]:
    db.session.rollback()
    rows = db.session.execute(sa.select(Job.name, Job.status).filter_by(user_id=user_id))
    return {name: status for name, status in rows}


def test_jobs_list_finds_and_bulk_cancels(live_server, page, console_errors, a11y):
    ensure_catalogue()
    user = UserFactory(username="ux-finder")
    sim = _hardware("aer-simulator")
    JobFactory(user=user, hardware=sim, name="alpha", tags=["paper"])
    JobFactory(user=user, hardware=sim, name="beta")
    JobFactory(user=user, hardware=sim, name="gamma", status=JobStatus.COMPLETED)
    app = registry_app(name="Delta App")
    JobFactory(  # another device, an app's run, ten days ago
        user=user,
        hardware=_hardware("generic-5-noisy"),
        name="delta",
        status=JobStatus.COMPLETED,
        app_version=app.latest_version,
        created_at=utcnow() - timedelta(days=10),
    )
    user_id = user.id
    db.session.commit()
    base = live_server.url
    sign_in(page, base, "ux-finder")
    table = page.get_by_test_id("job-table")
    rows = table.locator("tbody tr")

    def names() -> set[str]:
        return {n.strip() for n in rows.locator("td:nth-child(2)").all_inner_texts()}

    page.goto(base + "/jobs")
    expect(rows).to_have_count(4)
    a11y.check(page, "jobs list")
    # Each filter applies at once (a select) or with Find (text and dates), and narrows
    # the list to exactly the jobs it names.
    page.get_by_label("Tag").select_option("paper")
    expect(rows).to_have_count(1)
    expect(table).to_contain_text("alpha")
    page.goto(base + "/jobs")
    page.get_by_label("Status").select_option("COMPLETED")
    expect(rows).to_have_count(2)
    assert names() == {"gamma", "delta"}
    page.goto(base + "/jobs")
    page.get_by_label("Device").select_option("generic-5-noisy")
    expect(rows).to_have_count(1)
    expect(table).to_contain_text("delta")
    page.goto(base + "/jobs")
    page.get_by_label("App").select_option(label="Delta App")
    expect(rows).to_have_count(1)
    expect(table).to_contain_text("delta")
    page.goto(base + "/jobs")
    page.get_by_label("Submitted from").fill((utcnow() - timedelta(days=1)).date().isoformat())
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(3)
    assert names() == {"alpha", "beta", "gamma"}
    page.goto(base + "/jobs")
    page.get_by_label("to", exact=True).fill((utcnow() - timedelta(days=5)).date().isoformat())
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(1)
    expect(table).to_contain_text("delta")
    page.goto(base + "/jobs")
    page.get_by_label("Search").fill("bet")
    page.get_by_test_id("apply-filters").click()
    expect(rows).to_have_count(1)
    expect(table).to_contain_text("beta")
    a11y.check(page, "jobs list (searched)")
    page.goto(base + "/jobs")
    page.get_by_label("Search").fill("nothing-like-this")
    page.get_by_test_id("apply-filters").click()
    expect(page.get_by_test_id("no-match")).to_be_visible()

    page.goto(base + "/jobs")
    boxes = page.get_by_test_id("select-job")
    expect(boxes).to_have_count(2)  # the queued ones only
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("bulk-cancel").click()
    expect(page.get_by_text("Cancelled 2 job(s).")).to_be_visible()
    a11y.check(page, "jobs list (after bulk cancel)")
    assert _statuses(user_id) == {
        "alpha": JobStatus.CANCELLED,
        "beta": JobStatus.CANCELLED,
        "gamma": JobStatus.COMPLETED,
        "delta": JobStatus.COMPLETED,
    }
    assert a11y.violations == []
    assert console_errors == []


def test_result_tags_probabilities_transpiled_and_downloads(
    worker_live_server, page, console_errors, a11y
):
    ensure_catalogue()
    user = UserFactory(username="ux-results")
    user_id = user.id
    db.session.commit()
    base = worker_live_server.url
    sign_in(page, base, "ux-results")

    page.goto(base + "/jobs/new")
    page.get_by_label("OpenQASM program").fill(BELL)
    page.get_by_label("Device").select_option("generic-5-noisy")
    page.get_by_label("Shots").fill("300")
    page.get_by_label("Name").fill("bell-noisy")
    # A second click while the first submission is still in flight sends nothing: the
    # submission is held (a slow server) while the user clicks again.
    held = []

    def hold(route) -> None:
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    page.route("**/jobs/new", hold)
    run = page.get_by_test_id("run-job")
    run.scroll_into_view_if_needed()
    box = run.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/jobs/new")):
        page.mouse.click(x, y)
    # The mouse, not a locator: locators (and evaluate) wait for the held navigation.
    page.mouse.click(x, y)  # the user clicks again
    page.wait_for_timeout(500)  # time for a second submission to reach the network
    assert len(held) == 1, f"{len(held)} submissions"
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    page.unroute("**/jobs/new")
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    assert len(_statuses(user_id)) == 1
    expect(page.get_by_test_id("probability").first).to_be_visible()
    page.reload()  # the full page draws the transpiled circuit
    page.get_by_text("Transpiled for generic-5-noisy").click()
    expect(page.get_by_test_id("transpiled-drawing")).to_be_visible()

    page.get_by_label("Edit tags (separate with commas)").fill("paper, bell")
    page.get_by_test_id("save-tags").click()
    expect(page.get_by_test_id("job-tag")).to_have_count(2)
    page.get_by_label("Edit tags (separate with commas)").fill("x" * 51)
    page.get_by_test_id("save-tags").click()
    expect(page.get_by_role("alert")).to_contain_text("at most 50 characters")
    a11y.check(page, "job (completed, tags)")

    # Both downloads carry the page's counts; the CSV's probabilities are count / shots.
    with page.expect_download() as info:
        page.get_by_test_id("download-result").click()
    assert info.value.suggested_filename.endswith(".json")
    with open(info.value.path()) as handle:
        document = json.load(handle)
    assert document["status"] == "COMPLETED" and document["device"] == "generic-5-noisy"
    counts = document["counts"]
    assert sum(counts.values()) == 300
    with page.expect_download() as info:
        page.get_by_test_id("download-csv").click()
    assert info.value.suggested_filename.endswith(".csv")
    with open(info.value.path(), newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["outcome", "count", "probability"]
    assert {row[0]: int(row[1]) for row in table[1:]} == counts
    for outcome, count, probability in table[1:]:
        assert float(probability) == pytest.approx(int(count) / 300, abs=1e-4), outcome
    shown = page.get_by_test_id("outcomes").locator("tbody tr").first.locator("td")
    top, most = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0]
    expect(shown.nth(0)).to_have_text(top)
    expect(shown.nth(2)).to_have_text(f"{most / 300:.4f}")  # beside its count
    assert a11y.violations == []
    assert console_errors == []


def test_registry_open_in_ide(live_server, page, console_errors, a11y):
    app = registry_app()
    app_id, app_name = app.id, app.name
    user = UserFactory(username="ux-forker")
    user_id = user.id
    db.session.commit()
    base = live_server.url

    page.goto(f"{base}/registry/{app_id}")
    page.get_by_test_id("open-in-ide").click()  # a visitor signs in first
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, base, "ux-forker")
    page.goto(f"{base}/registry/{app_id}")
    a11y.check(page, "registry app (signed in)")
    page.get_by_test_id("open-in-ide").click()
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}"))
    expect(page.get_by_text("created from the Registry")).to_be_visible()
    a11y.check(page, "IDE (forked project)")
    db.session.rollback()
    names = db.session.execute(sa.select(Project.name).filter_by(user_id=user_id)).scalars()
    assert [n.startswith(app_name) for n in names] == [True]
    assert a11y.violations == []
    assert console_errors == []


def test_queue_position_wait_estimate_and_elapsed(
    live_server, start_worker, page, console_errors, a11y
):
    ensure_catalogue()
    user = UserFactory(username="ux-waiter")
    now = utcnow()
    JobFactory(  # run-time history on the device: the wait estimate's median
        user=user,
        hardware=_hardware(DEVICE),
        status=JobStatus.COMPLETED,
        queued_at=now - timedelta(seconds=10),
        started_at=now - timedelta(seconds=8),
        finished_at=now - timedelta(seconds=5),
    )
    db.session.commit()
    base = live_server.url
    sign_in(page, base, "ux-waiter")
    page.goto(base + "/jobs/new")
    page.get_by_label("OpenQASM program").fill(deep_program())
    page.get_by_label("Device").select_option(DEVICE)
    page.get_by_label("Shots").fill("100")
    page.get_by_test_id("run-job").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("queue-position")).to_contain_text("in the queue")
    expect(page.get_by_test_id("wait-estimate")).to_contain_text("about")
    a11y.check(page, "job (queued, estimate)")

    start_worker()
    expect(page.get_by_test_id("job-status")).to_have_text("RUNNING", timeout=JOB_TIMEOUT)
    expect(page.get_by_test_id("elapsed")).to_contain_text(" s")
    a11y.check(page, "job (running, elapsed)")
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    assert a11y.violations == []
    assert console_errors == []
