"""Jobs on the real path, in a real browser: the live server puts jobs on the Redis queue and a
separate ``flask worker`` process runs them, as ``make run`` and production do.

- a job's page follows it QUEUED → RUNNING → COMPLETED without a reload;
- a running job is cancelled from its page, stays CANCELLED after the simulation returns and
  is not charged;
- while a 21-qubit job runs, other pages answer (the web process does not run jobs);
- the IDE shows the run's live status and one click on Run is one job.

A job is seen QUEUED deterministically by submitting it before any worker runs. The long
circuit below keeps a worker busy for several seconds (statevector on 21 qubits, one Aer
thread), so RUNNING is observed for certain; the tests never assert on elapsed time, they
wait (bounded) for the page to show the next state.
"""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.billing.models import BillingItem
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import Job, JobStatus
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.factories.accounts import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DEVICE = "aer-statevector"
QUBITS = 21


def deep_program(qubits: int = QUBITS, layers: int = 30) -> str:
    """Layers of rotations and a brickwork of CNOTs, then the same undone, then a GHZ state:
    several seconds of statevector simulation whose counts are exactly two outcomes, all
    zeros and all ones (Aer simulates every gate; nothing cancels them before it runs)."""
    ops: list[list[str]] = []
    undo: list[list[str]] = []
    for layer in range(layers):
        angles = [0.1 + 0.01 * q + 0.001 * layer for q in range(qubits)]
        ops.append([f"rx({a}) q[{q}];" for q, a in enumerate(angles)])
        undo.append([f"rx({-a}) q[{q}];" for q, a in enumerate(angles)])
        cnots = [f"cx q[{q}], q[{q + 1}];" for q in range(layer % 2, qubits - 1, 2)]
        ops.append(cnots)
        undo.append(cnots)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];", f"creg c[{qubits}];"]
    for block in ops:
        lines += block
    for block in reversed(undo):
        lines += block
    lines.append("h q[0];")
    lines += [f"cx q[{q}], q[{q + 1}];" for q in range(qubits - 1)]
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


ZEROS = "0" * QUBITS
ONES = "1" * QUBITS
BELL = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""


def fresh_job(job_id: str | uuid.UUID) -> Job:
    """The job as the server and the worker committed it (a new transaction, no stale row)."""
    db.session.rollback()
    return db.session.get(Job, uuid.UUID(str(job_id)), populate_existing=True)


def submit_from_form(page: Page, base: str, source: str, *, device: str, shots: int) -> str:
    """Submit a circuit from the Run-a-circuit page; returns the job id from its page."""
    page.goto(base + "/jobs/new")
    page.get_by_label("OpenQASM program").fill(source)
    page.get_by_label("Device").select_option(device)
    page.get_by_label("Shots").fill(str(shots))
    page.get_by_test_id("run-job").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page.url.rsplit("/", 1)[1]


def watch_navigations(page: Page) -> list[str]:
    """Main-frame navigations from now on (htmx swaps are not navigations), and a marker
    in the page's window that a reload would wipe."""
    seen: list[str] = []

    def navigated(frame) -> None:
        if frame == page.main_frame:
            seen.append(frame.url)

    page.on("framenavigated", navigated)
    page.evaluate("window.__marker = 1")
    return seen


def signed_in_user(page: Page, base: str, username: str):
    ensure_catalogue()
    user = UserFactory(username=username)
    db.session.commit()
    sign_in(page, base, username)
    return user


def test_job_page_follows_queued_running_completed(
    live_server, start_worker, page, console_errors, a11y
):
    base = live_server.url
    signed_in_user(page, base, "feynman")
    # No worker yet: the job waits in the queue, and its page says so.
    job_id = submit_from_form(page, base, deep_program(), device=DEVICE, shots=200)
    status = page.get_by_test_id("job-status")
    expect(status).to_have_text("QUEUED")
    expect(page.get_by_test_id("status-note")).to_contain_text("waiting for a worker")
    a11y.check(page, "job (queued)")
    navigations = watch_navigations(page)

    start_worker()
    expect(status).to_have_text("RUNNING", timeout=JOB_TIMEOUT)
    expect(page.get_by_test_id("cancel-job")).to_be_visible()  # still cancellable
    a11y.check(page, "job (running)")
    expect(status).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    histogram = page.get_by_test_id("histogram")
    expect(histogram.locator("rect")).to_have_count(2)
    expect(page.get_by_test_id("cancel-job")).to_have_count(0)
    a11y.check(page, "job (completed)")

    assert navigations == []
    assert page.evaluate("window.__marker") == 1  # updated in place: never reloaded
    job = fresh_job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.result.counts.keys() == {ZEROS, ONES}
    assert console_errors == []
    assert not a11y.violations, "\n".join(a11y.violations)


def test_cancel_a_running_job_from_its_page(worker_live_server, page, console_errors):
    base = worker_live_server.url
    user = signed_in_user(page, base, "curie")
    page.on("dialog", lambda dialog: dialog.accept())  # the "Cancel this job?" confirmation
    job_id = submit_from_form(page, base, deep_program(), device=DEVICE, shots=200)
    status = page.get_by_test_id("job-status")
    expect(status).to_have_text("RUNNING", timeout=JOB_TIMEOUT)
    navigations = watch_navigations(page)

    page.get_by_test_id("cancel-job").click()
    expect(status).to_have_text("CANCELLED")
    expect(page.get_by_test_id("cancel-job")).to_have_count(0)
    assert navigations == []
    assert page.evaluate("window.__marker") == 1
    # Still simulating: the worker has not reached the end of the run yet, or has and
    # discarded it. Either way the cancellation is already committed.
    assert fresh_job(job_id).status is JobStatus.CANCELLED

    # One worker takes jobs in order: once the next job completes, the cancelled job's
    # simulation has returned and its result has been discarded.
    submit_from_form(page, base, BELL, device="aer-simulator", shots=100)
    expect(page.get_by_test_id("job-status")).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)

    page.goto(f"{base}/jobs/{job_id}")  # a later request
    expect(page.get_by_test_id("job-status")).to_have_text("CANCELLED")
    expect(page.get_by_test_id("histogram")).to_have_count(0)
    job = fresh_job(job_id)
    assert job.status is JobStatus.CANCELLED
    assert job.actual_cost is None
    assert job.result is None
    charges = db.session.scalars(sa.select(BillingItem).where(BillingItem.job_id == job.id)).all()
    assert charges == []
    assert user.id == job.user_id
    assert console_errors == []


def test_other_pages_answer_while_a_job_runs(worker_live_server, page, console_errors):
    base = worker_live_server.url
    signed_in_user(page, base, "noether")
    job_id = submit_from_form(page, base, deep_program(), device=DEVICE, shots=200)
    expect(page.get_by_test_id("job-status")).to_have_text("RUNNING", timeout=JOB_TIMEOUT)

    # A second tab of the same visitor, while the first keeps polling the running job.
    other = page.context.new_page()
    other.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    other.on("pageerror", lambda exc: console_errors.append(str(exc)))
    response = other.goto(base + "/registry/")
    assert response is not None and response.status == 200
    expect(other.get_by_role("heading", level=1)).to_have_text("Registry")
    response = other.goto(base + "/devices")
    assert response is not None and response.status == 200
    expect(other.get_by_role("link", name="falcon-27-noisy")).to_be_visible()
    other.wait_for_load_state("networkidle")

    # Both pages rendered while the job was still running in the worker.
    assert fresh_job(job_id).status is JobStatus.RUNNING
    expect(page.get_by_test_id("job-status")).to_have_text("RUNNING")
    other.close()
    assert console_errors == []


def test_ide_shows_live_status_and_runs_once(live_server, start_worker, page, console_errors, a11y):
    from tests.factories.projects import ProjectFactory

    base = live_server.url
    user = signed_in_user(page, base, "hopper")
    project = ProjectFactory(user=user, name="Deep lab", files={"main.qasm": deep_program()})
    db.session.commit()
    runs: list[str] = []
    page.on(
        "request",
        lambda r: runs.append(r.url) if r.method == "POST" and r.url.endswith("/run") else None,
    )
    page.goto(f"{base}/projects/{project.id}")
    expect(page.get_by_test_id("res-qubits")).to_have_text(str(QUBITS))
    page.get_by_label("Device").select_option(DEVICE)
    page.get_by_label("Shots").fill("200")
    navigations = watch_navigations(page)

    # Two clicks at once, no worker yet: one job, shown as queued, and Run is off.
    run_button = page.get_by_role("button", name=re.compile("^Run"))
    run_button.dblclick()
    output = page.get_by_test_id("run-output")
    status = output.get_by_test_id("job-status")
    expect(status).to_have_text("QUEUED")
    expect(output.get_by_test_id("run-note")).to_contain_text("waiting for a worker")
    expect(run_button).to_be_disabled()
    # Ctrl-Enter in the editor, and a submit that bypasses the button: neither sends.
    page.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    page.evaluate("document.getElementById('run-form').requestSubmit()")
    a11y.check(page, "IDE (queued)")

    start_worker()
    expect(status).to_have_text("RUNNING", timeout=JOB_TIMEOUT)
    expect(output.get_by_test_id("run-note")).to_contain_text("Running on the simulator")
    expect(run_button).to_be_disabled()
    expect(status).to_have_text("COMPLETED", timeout=JOB_TIMEOUT)
    histogram = output.get_by_test_id("histogram")
    expect(histogram.locator(f'[data-state="{ZEROS}"]')).to_be_visible()
    expect(histogram.locator(f'[data-state="{ONES}"]')).to_be_visible()
    expect(histogram.locator(".hist-bar")).to_have_count(2)
    expect(run_button).to_be_enabled()  # the run is over: Run again is possible
    a11y.check(page, "IDE (completed)")

    assert len(runs) == 1, runs
    db.session.rollback()
    jobs = db.session.scalars(sa.select(Job).where(Job.user_id == user.id)).all()
    assert [j.status for j in jobs] == [JobStatus.COMPLETED]
    assert navigations == []
    assert page.evaluate("window.__marker") == 1
    assert console_errors == []
    assert not a11y.violations, "\n".join(a11y.violations)
