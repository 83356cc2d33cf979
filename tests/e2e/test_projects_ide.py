"""The developer's path in a real browser: template → edit → run → histogram → syntax error
marked → fix → build → release → the app's page."""

import re

import pytest
from playwright.sync_api import expect

import portal.models  # noqa: F401 - every model mapped before any app is built
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.e2e


def test_template_edit_run_fix_build_release(worker_live_server, page, console_errors):
    user = UserFactory(provider=True, username="quantumdev")
    ensure_catalogue()
    db.session.commit()
    base = worker_live_server.url
    sign_in(page, base, "quantumdev")

    # Create a project from the GHZ template.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.get_by_text("No projects yet")).to_be_visible()
    page.get_by_role("button", name="Create your first project").click()
    page.get_by_label("Name", exact=True).fill("GHZ lab")
    page.get_by_label(re.compile("GHZ state")).check()
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_title("GHZ lab · IDE · Quantum Hub")

    # The editor shows the program; the analysis shows its resource figures before running.
    editor = page.get_by_role("textbox", name="Source of main.qasm")
    expect(editor).to_contain_text("cx q[3], q[4];")
    expect(page.get_by_test_id("res-qubits")).to_have_text("5")
    expect(page.get_by_test_id("res-gates")).to_contain_text("cx\u00d74")
    save_state = page.get_by_test_id("save-state")

    # Edit: add a barrier before the measurement line; autosave catches up.
    page.locator(".cm-line", has_text="measure q -> c;").click()
    page.keyboard.press("Home")
    page.keyboard.type("barrier q;\n")
    expect(save_state).to_have_text("Unsaved changes")
    expect(save_state).to_have_text("Saved")
    expect(page.get_by_test_id("res-gates")).to_contain_text("barrier\u00d71")

    # Run on the simulator and see the histogram and the circuit.
    page.get_by_label("Shots").fill("500")
    page.get_by_role("button", name=re.compile("^Run")).click()
    output = page.get_by_test_id("run-output")
    expect(output.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    histogram = output.get_by_test_id("histogram")
    expect(histogram.locator('[data-state="00000"]')).to_be_visible()
    expect(histogram.locator('[data-state="11111"]')).to_be_visible()
    expect(output.get_by_test_id("circuit-drawing")).to_contain_text("q_4")

    # A syntax error is marked in the editor at its line, then fixed.
    page.locator(".cm-line", has_text="barrier q;").click()
    page.keyboard.press("End")
    page.keyboard.type("\nfoo q[0];")
    expect(page.get_by_test_id("diagnostics")).to_contain_text("Line 13")
    expect(page.locator(".cm-lintRange-error")).to_have_count(1)
    expect(page.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    # Every OpenQASM 2 error names its line and column (this message used to come without).
    page.keyboard.type("\nmeasure q[0 -> c[0];")
    diagnostics = page.get_by_test_id("diagnostics")
    expect(diagnostics).to_contain_text("Line 13, column 13: needed a closing bracket")
    expect(diagnostics).not_to_contain_text("<input>")
    expect(page.locator(".cm-lintRange-error")).to_have_count(1)
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    expect(page.get_by_test_id("res-qubits")).to_have_text("5")
    page.keyboard.press("Control+s")
    expect(save_state).to_have_text("Saved")

    # Build: validated by parsing here and simulating on the worker (the fragment polls).
    page.get_by_role("button", name="Build and validate").click()
    build = page.get_by_test_id("build-result")
    expect(build).to_have_attribute("data-status", "passed", timeout=JOB_TIMEOUT)
    expect(build).to_contain_text("Version 0.1.0 built and validated")
    expect(build).to_contain_text("Simulated 64 shots on Aer")

    # Release as a public app, then open its page.
    page.get_by_label("App name").fill("GHZ app")
    page.get_by_label("Visibility").select_option("PUBLIC")
    page.get_by_label("Licence").select_option("APACHE_2_0")
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.get_by_test_id("release-result")).to_contain_text("Released GHZ app 0.1.0")
    page.get_by_test_id("app-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("GHZ app")
    expect(page.get_by_text("0.1.0").first).to_be_visible()
    assert user.id is not None
    assert console_errors == []


def test_settings_repository_link_and_delete(worker_live_server, page, console_errors):
    from tests.factories.projects import ProjectFactory

    user = UserFactory(username="labowner")
    ProjectFactory(user=user, name="Old lab")
    db.session.commit()
    base = worker_live_server.url
    sign_in(page, base, "labowner")
    page.goto(base + "/projects/")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label(re.compile("Repository URL")).fill("https://github.com/labowner/old-lab")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    link = page.get_by_test_id("repo-link")
    expect(link).to_have_attribute("href", "https://github.com/labowner/old-lab")
    page.get_by_role("button", name="Delete project…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “Old lab”?")
    page.get_by_role("button", name="Yes, delete the project").click()
    expect(page.get_by_text("Project “Old lab” deleted.")).to_be_visible()
    expect(page.get_by_text("No projects yet")).to_be_visible()
    assert console_errors == []


def test_ide_shows_inputs_of_a_parameterised_program(worker_live_server, page, console_errors):
    """The VQE template: the analysis lists its QASM 3 inputs, bound from inputs.json."""
    from tests.factories.projects import ProjectFactory

    user = UserFactory(username="shooter")
    project = ProjectFactory(user=user, name="VQE lab", files__starter="vqe")
    db.session.commit()
    sign_in(page, worker_live_server.url, "shooter")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(f"{worker_live_server.url}/projects/{project.id}")
    expect(page.locator(".cm-editor")).to_be_visible()
    expect(page.get_by_test_id("file-tree")).to_contain_text("inputs.json")
    expect(page.get_by_test_id("analysis")).to_contain_text("theta0")
    assert console_errors == []


def test_ide_shows_the_price_and_transpile_preview_next_to_run(live_server, page, console_errors):
    """Next to Run: the price of the editor's program on the chosen device and how it would
    run there (transpiled depth, size and two-qubit gates), updated as the device changes."""
    from tests.factories.projects import ProjectFactory

    user = UserFactory(username="previewer")
    ensure_catalogue()
    project = ProjectFactory(user=user, name="GHZ preview", files__starter="ghz")
    db.session.commit()
    sign_in(page, live_server.url, "previewer")
    page.goto(f"{live_server.url}/projects/{project.id}")
    expect(page.locator(".cm-editor")).to_be_visible()
    quote = page.get_by_test_id("run-quote")
    page.get_by_label("Device").select_option("aer-simulator")
    page.get_by_label("Shots").fill("1000")
    expect(quote.get_by_test_id("quote-price")).to_have_text("$0.02 for 1000 shots")
    expect(quote).to_contain_text("As run on aer-simulator")
    expect(quote.get_by_test_id("quote-2q")).to_have_text("4")  # the GHZ's four CNOTs

    page.get_by_label("Device").select_option("falcon-27-noisy")
    expect(quote).to_contain_text("Transpiled for falcon-27-noisy")
    expect(quote.get_by_test_id("quote-price")).to_have_text("$0.20 for 1000 shots")
    two_qubit = int(quote.get_by_test_id("quote-2q").inner_text())
    assert two_qubit >= 4  # heavy-hex: the CNOTs, and SWAPs where the layout needs them
    assert int(quote.get_by_test_id("quote-depth").inner_text()) > 0

    page.get_by_label("Shots").fill("0")
    expect(quote.get_by_test_id("quote-error")).to_contain_text("between")
    assert console_errors == []
