"""A provider publishes an app to the Registry; another user finds it by search (as they
type), reads its README, downloads its package and sees the download count go up."""

import zipfile

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from tests.e2e.conftest import sign_in
from tests.factories.accounts import UserFactory
from tests.factories.apps import ROTATION

pytestmark = pytest.mark.e2e


def test_publish_find_read_download(live_server, page, console_errors, tmp_path):
    base = live_server.url
    UserFactory(username="qprovider", provider=True)
    UserFactory(username="qconsumer")
    db.session.commit()

    # The provider creates the app, adds a version and publishes it.
    sign_in(page, base, "qprovider")
    page.goto(base + "/apps/")
    page.get_by_role("button", name="New app").click()
    page.get_by_label("Name").fill("Phase Kickback Demo")
    page.get_by_label("Short description").fill("Shows phase kickback on two qubits.")
    page.get_by_label("Visibility").select_option("PUBLIC")
    page.get_by_label("README (Markdown)").fill(
        "# Phase kickback\n\nA **controlled** rotation kicks its phase back.\n\n"
        "<script>document.title = 'hacked'</script>"
    )
    page.get_by_label("Tags (comma separated)").fill("education, phase")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Phase Kickback Demo")
    expect(page.get_by_test_id("publish-problems")).to_contain_text("Publish a version first")

    page.get_by_role("button", name="New version").click()
    page.get_by_label("Version number (semantic: 1.2.0)").fill("1.0.0")
    page.locator("#entry_program").fill(ROTATION)
    page.get_by_label("Release notes (Markdown)").fill("First public release.")
    page.get_by_role("button", name="Create version").click()
    expect(page.locator(".flash-success")).to_contain_text("Version 1.0.0 created (PUBLISHED)")
    page.get_by_role("button", name="Publish to the Registry").click()
    expect(page.locator(".flash-success")).to_contain_text("Published to the Registry")
    page.get_by_role("button", name="Sign out").click()

    # Another user finds it by typing in the search box (HTMX, no page load).
    sign_in(page, base, "qconsumer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registry").click()
    expect(page).to_have_title("Registry · Quantum Hub")
    page.get_by_label("Search apps").press_sequentially("kickba", delay=30)
    results = page.locator("#registry-results")
    expect(results.get_by_test_id("app-card")).to_have_count(1)
    expect(results).to_contain_text("Phase Kickback Demo")
    expect(page).to_have_url(base + "/registry/?q=kickba")  # pushed, so it can be shared
    results.get_by_role("link", name="Phase Kickback Demo").click()

    # Reads the README (rendered, script removed) and the example job request.
    readme = page.get_by_test_id("readme")
    expect(readme.get_by_role("heading", name="Phase kickback")).to_be_visible()
    expect(readme.locator("strong")).to_have_text("controlled")
    expect(page).to_have_title("Phase Kickback Demo — Registry · Quantum Hub")
    expect(page.get_by_test_id("example-request")).to_contain_text("/api/v1/jobs")
    expect(page.get_by_test_id("download-count")).to_have_text("0")

    # Likes it (HTMX toggle).
    page.get_by_test_id("like-button").click()
    expect(page.get_by_test_id("like-button")).to_contain_text("Liked")
    expect(page.get_by_test_id("like-count")).to_have_text("1")

    # Downloads the package and sees the count go up.
    page.wait_for_load_state("networkidle")
    with page.expect_download() as download_info:
        page.get_by_test_id("download-button").click()
    download = download_info.value
    assert download.suggested_filename == "phase-kickback-demo-1.0.0.zip"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    with zipfile.ZipFile(target) as archive:
        assert {"manifest.json", "programs/main.qasm", "README.md"} <= set(archive.namelist())
    page.reload()
    expect(page.get_by_test_id("download-count")).to_have_text("1")
    # Chromium reports a navigation that became a download as an aborted request.
    assert [
        e for e in console_errors if not e.endswith(f"/registry/{app_path_id(page)}/download")
    ] == []


def app_path_id(page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]
