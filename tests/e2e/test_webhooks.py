"""Webhooks in a real browser: a job submitted with a webhook URL is delivered by the real
worker to a receiver on 127.0.0.1; its page lists the delivery (status, response excerpt,
time) and Replay sends it again, the list following the new attempt without a reload. The
API-keys page shows the signing secret."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.webhooks.services import BACKOFF
from portal.webhooks.signing import HEADER, verify
from tests.e2e.conftest import JOB_TIMEOUT, sign_in
from tests.factories.accounts import UserFactory, make_api_key
from tests.factories.execution import BELL_QASM2
from tests.webhook_receiver import receiver  # noqa: F401 - the local receiver fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_job_page_lists_deliveries_and_replays(
    worker_live_server,
    page: Page,
    console_errors,
    a11y,
    receiver,  # noqa: F811 - the imported fixture
):
    base = worker_live_server.url
    ensure_catalogue()
    user = UserFactory(username="hooked")
    _key, raw = make_api_key(user, scopes=("jobs",))
    db.session.commit()
    hook = receiver(200)
    sign_in(page, base, "hooked")
    answer = page.request.post(
        base + "/api/v1/jobs",
        headers={"X-API-Key": raw},
        data={"device": "aer-simulator", "shots": 100, "program": {"source": BELL_QASM2},
              "webhook_url": hook.url},
    )  # fmt: skip
    assert answer.status == 201, answer.text()
    job_id = answer.json()["id"]

    page.goto(f"{base}/jobs/{job_id}")
    rows = page.get_by_test_id("delivery-row")
    expect(rows.filter(has_text="Succeeded")).to_have_count(1, timeout=JOB_TIMEOUT)
    page.reload()
    expect(rows.first).to_contain_text("200")
    expect(rows.first).to_contain_text("thanks")
    a11y.check(page, "job with a delivered webhook")

    page.get_by_role("button", name="Replay attempt 1").click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("(replay)")
    expect(rows.filter(has_text="Succeeded")).to_have_count(2, timeout=JOB_TIMEOUT)
    requests = hook.wait(2, timeout=10)
    assert len(requests) == 2 and json.loads(requests[1]["body"])["replay"] is True

    page.goto(base + "/api-keys")
    page.get_by_text("Show the secret").click()
    secret = page.get_by_test_id("webhook-secret-value").inner_text()
    verify(secret, requests[1]["body"], requests[1]["headers"][HEADER])
    a11y.check(page, "API keys with the webhook secret")
    assert a11y.violations == []
    assert console_errors == []


def test_failed_delivery_is_retried_after_its_backoff(
    live_server,
    start_worker,
    page: Page,
    console_errors,
    a11y,
    receiver,  # noqa: F811 - the imported fixture
):
    """The receiver answers 500 once: the job page lists the failed attempt with its
    response and the retry due BACKOFF[0] seconds later, then the retry succeeding (the
    worker's reconciler tick delivers due retries; on here every second)."""
    base = live_server.url
    ensure_catalogue()
    user = UserFactory(username="retried")
    _key, raw = make_api_key(user, scopes=("jobs",))
    db.session.commit()
    hook = receiver(500, 200)
    start_worker("--reconcile-every", "1")
    sign_in(page, base, "retried")
    answer = page.request.post(
        base + "/api/v1/jobs",
        headers={"X-API-Key": raw},
        data={"device": "aer-simulator", "shots": 100, "program": {"source": BELL_QASM2},
              "webhook_url": hook.url},
    )  # fmt: skip
    assert answer.status == 201, answer.text()

    page.goto(f"{base}/jobs/{answer.json()['id']}")
    rows = page.get_by_test_id("delivery-row")
    failed = page.locator('[data-testid=delivery-row][data-state="FAILED"]')
    pending = page.locator('[data-testid=delivery-row][data-state="PENDING"]')
    expect(failed).to_have_count(1, timeout=JOB_TIMEOUT)
    expect(failed).to_contain_text("500")
    expect(pending).to_contain_text("due")
    attempted = _shown_time(failed.locator("td").nth(3).inner_text())
    due = _shown_time(re.search(r"due (\S+ \S+ \S+)", pending.inner_text()).group(1))
    assert (due - attempted).total_seconds() == pytest.approx(BACKOFF[0], abs=2)
    a11y.check(page, "job with a failed delivery, a retry due")

    succeeded = page.locator('[data-testid=delivery-row][data-state="SUCCEEDED"]')
    expect(succeeded).to_have_count(1, timeout=JOB_TIMEOUT)
    expect(succeeded.locator("td").first).to_have_text("2")
    expect(rows).to_have_count(2)
    requests = hook.wait(2, timeout=10)
    assert len(requests) == 2
    first, second = (json.loads(r["body"]) for r in requests)
    assert (first.pop("attempt"), second.pop("attempt")) == (1, 2)
    first.pop("delivery_id"), second.pop("delivery_id")
    assert first == second  # the same event, sent again
    a11y.check(page, "job with a retried delivery")
    assert a11y.violations == []
    assert console_errors == []


def _shown_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S %Z")
