"""Job webhooks end to end: a receiver on 127.0.0.1 gets the job's final state, signed; a
500 is retried with backoff; a delivery can be replayed; the secret is encrypted at rest;
another user sees none of it (docs/webhooks.md)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import psycopg
import pytest

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import JobStatus
from portal.execution.runner import run_job
from portal.webhooks import services as webhooks
from portal.webhooks.models import WebhookDelivery
from portal.webhooks.signing import HEADER, verify
from tests.conftest import database_url
from tests.factories.accounts import UserFactory
from tests.factories.execution import BELL_QASM2


def submit(client, headers, url, **body):
    body = {"device": "aer-simulator", "shots": 100, "program": {"source": BELL_QASM2},
            "webhook_url": url, **body}  # fmt: skip
    response = client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def secret_of(client, headers) -> str:
    return client.get("/api/v1/webhook-secret", headers=headers).get_json()["secret"]


def deliveries(client, headers, job_id) -> list[dict]:
    response = client.get(f"/api/v1/jobs/{job_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture
def user(committed_db):
    """Real commits: ``run_job`` claims the job on a connection of its own, as a worker does."""
    ensure_catalogue()
    user = UserFactory()
    committed_db.commit()
    return user


def test_the_final_state_is_posted_signed_after_the_job_completes(
    client, api_headers, user, receiver
):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    assert job["webhook_url"] == hook.url
    assert deliveries(client, headers, job["id"]) == []  # nothing before the job ends
    assert run_job(job["id"], worker=True) is JobStatus.COMPLETED
    pending = deliveries(client, headers, job["id"])
    assert [(d["attempt"], d["state"]) for d in pending] == [(1, "PENDING")]
    assert hook.requests == []  # written with the final state; sent by a worker, not yet
    assert webhooks.deliver_due() == 1  # what the worker's RQ job / reconciler tick does

    (request,) = hook.wait(1)
    secret = secret_of(client, headers)
    assert secret.startswith("whsec_")
    verify(secret, request["body"], request["headers"][HEADER])  # raises if not signed right
    document = json.loads(request["body"])
    assert document["event"] == "job.completed" and document["attempt"] == 1
    assert document["job"]["id"] == job["id"] and document["job"]["status"] == "COMPLETED"
    assert sum(document["job"]["counts"].values()) == 100
    assert request["headers"]["QH-Event"] == "job.completed"
    (done,) = deliveries(client, headers, job["id"])
    assert done["state"] == "SUCCEEDED" and done["status_code"] == 200
    assert done["response_excerpt"] == "thanks" and done["attempted_at"]
    assert webhooks.deliver_due() == 0  # sent once


def test_a_cancelled_job_is_delivered_too(client, api_headers, user, receiver):
    hook = receiver(204)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=headers).status_code == 200
    webhooks.deliver_due()
    (request,) = hook.wait(1)
    assert json.loads(request["body"])["event"] == "job.cancelled"


def test_a_500_is_retried_with_backoff_then_succeeds(client, api_headers, user, receiver):
    hook = receiver(500, 200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    now = utcnow()
    assert webhooks.deliver_due(now) == 1
    failed, retry = sorted(deliveries(client, headers, job["id"]), key=lambda d: d["attempt"])
    assert (failed["state"], failed["status_code"]) == ("FAILED", 500)
    assert failed["response_excerpt"] == "receiver exploded"
    assert retry["state"] == "PENDING"
    db.session.expire_all()
    due = db.session.get(WebhookDelivery, retry["id"]).next_attempt_at
    assert due == now + timedelta(seconds=10)
    assert webhooks.deliver_due(now + timedelta(seconds=9)) == 0  # not due yet
    assert webhooks.deliver_due(now + timedelta(seconds=10)) == 1
    assert len(hook.wait(2)) == 2
    states = [(d["attempt"], d["state"]) for d in deliveries(client, headers, job["id"])]
    assert states == [(2, "SUCCEEDED"), (1, "FAILED")]  # newest first; no third attempt


def test_the_retry_schedule_gives_up_after_six_attempts(client, api_headers, user, receiver):
    hook = receiver(503)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    now = utcnow()
    gaps = []
    for _ in range(webhooks.MAX_ATTEMPTS):
        assert webhooks.deliver_due(now) == 1
        db.session.expire_all()
        pending = [d for d in deliveries(client, headers, job["id"]) if d["state"] == "PENDING"]
        if not pending:
            break
        due = db.session.get(WebhookDelivery, pending[0]["id"]).next_attempt_at
        gaps.append(int((due - now).total_seconds()))
        now = due
    assert gaps == [10, 60, 300, 1800, 7200]
    assert len(deliveries(client, headers, job["id"])) == 6 and len(hook.wait(6)) == 6
    assert webhooks.deliver_due(now + timedelta(days=1)) == 0


def test_replay_sends_the_delivery_again(client, api_headers, user, receiver):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    webhooks.deliver_due()
    (first,) = deliveries(client, headers, job["id"])
    response = client.post(
        f"/api/v1/jobs/{job['id']}/deliveries/{first['id']}/replay", headers=headers
    )
    assert response.status_code == 202, response.get_json()
    replayed = response.get_json()
    assert replayed["replay"] is True and replayed["state"] == "PENDING"
    assert len(hook.requests) == 1  # the request only wrote it; a worker sends it
    assert webhooks.deliver_due() == 1
    requests = hook.wait(2)
    document = json.loads(requests[1]["body"])
    assert document["replay"] is True and document["delivery_id"] == replayed["id"]
    verify(secret_of(client, headers), requests[1]["body"], requests[1]["headers"][HEADER])
    listed = deliveries(client, headers, job["id"])
    assert listed[0]["id"] == replayed["id"] and listed[0]["state"] == "SUCCEEDED"


def test_another_user_cannot_list_or_replay(client, api_headers, user, receiver):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    webhooks.deliver_due()
    (first,) = deliveries(client, headers, job["id"])
    stranger = api_headers(UserFactory())
    assert client.get(f"/api/v1/jobs/{job['id']}/deliveries", headers=stranger).status_code == 404
    replay = f"/api/v1/jobs/{job['id']}/deliveries/{first['id']}/replay"
    assert client.post(replay, headers=stranger).status_code == 404
    assert len(deliveries(client, headers, job["id"])) == 1  # nothing was written
    other_job = submit(client, stranger, hook.url)  # a delivery id of another job: 404
    other = f"/api/v1/jobs/{other_job['id']}/deliveries/{first['id']}/replay"
    assert client.post(other, headers=stranger).status_code == 404


def test_rotation_changes_the_signing_secret(client, api_headers, user, receiver):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    before = secret_of(client, headers)
    rotated = client.post("/api/v1/webhook-secret/rotate", headers=headers).get_json()["secret"]
    assert rotated != before and rotated.startswith("whsec_")
    run_job(job["id"], worker=True)
    webhooks.deliver_due()
    (request,) = hook.wait(1)
    verify(rotated, request["body"], request["headers"][HEADER])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://example.com/a\x00b", "NUL character"),  # the global guard, before us
        ("https://example.com/a b", "control characters"),
        ("https://example.com/" + "x" * 2000, "at most 2000"),
    ],
)
def test_invalid_webhook_urls_are_refused(client, api_headers, user, url, why):
    body = {"device": "aer-simulator", "shots": 10, "program": {"source": BELL_QASM2},
            "webhook_url": url}  # fmt: skip
    response = client.post("/api/v1/jobs", json=body, headers=api_headers(user))
    assert response.status_code == 422
    assert why in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/h", "http://10.1.2.3/h", "http://[::1]/h", "http://169.254.169.254/",
     "http://192.168.0.10/h", "http://localhost/h"],
)  # fmt: skip
def test_private_destinations_are_refused_unless_allowed(
    app, monkeypatch, client, api_headers, user, url
):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)
    body = {"device": "aer-simulator", "shots": 10, "program": {"source": BELL_QASM2},
            "webhook_url": url}  # fmt: skip
    response = client.post("/api/v1/jobs", json=body, headers=api_headers(user))
    assert response.status_code == 422, response.get_json()
    assert "not a public address" in response.get_json()["error"]["message"]


def test_sending_to_a_private_address_is_refused_at_send_time(
    app, monkeypatch, client, api_headers, user, receiver
):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)  # e.g. DNS now says 10.x
    webhooks.deliver_due()
    assert hook.requests == []
    failed = next(d for d in deliveries(client, headers, job["id"]) if d["attempt"] == 1)
    assert failed["state"] == "FAILED" and "not a public address" in failed["error"]


def test_the_secret_is_encrypted_at_rest(client, api_headers, committed_db):
    user = UserFactory()
    committed_db.commit()
    headers = api_headers(user)
    secret = client.post("/api/v1/webhook-secret/rotate", headers=headers).get_json()["secret"]
    url = database_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:  # a brand-new connection: what is really stored
        (stored,) = conn.execute(
            "SELECT secret FROM webhook_secrets WHERE user_id = %s", (user.id,)
        ).fetchone()
    assert secret not in stored and stored.startswith("gAAAA")  # a Fernet token
    from portal.core.crypto import decrypt

    assert decrypt(stored) == secret


@pytest.mark.timeout(120)
def test_a_real_worker_delivers_after_the_job_ends(
    client, api_headers, committed_db, receiver, start_worker
):
    ensure_catalogue()
    user = UserFactory()
    committed_db.commit()
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    start_worker()
    (request,) = hook.wait(1, timeout=90)
    verify(secret_of(client, headers), request["body"], request["headers"][HEADER])
    assert json.loads(request["body"])["job"]["status"] == "COMPLETED"
    # The worker records the outcome after the receiver answered: wait for that write.
    deadline = time.monotonic() + 30
    while (state := delivery_state(client, headers, job["id"])) == "PENDING":
        assert time.monotonic() < deadline, "the worker never recorded the delivery"
        time.sleep(0.05)
    assert state == "SUCCEEDED"


def delivery_state(client, headers, job_id) -> str:
    db.session.remove()
    return deliveries(client, headers, job_id)[0]["state"]


def test_the_job_page_lists_deliveries_and_replays(client, api_headers, login_as, user, receiver):
    hook = receiver(500)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    webhooks.deliver_due()
    (first,) = [d for d in deliveries(client, headers, job["id"]) if d["attempt"] == 1]
    login_as(user)
    page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "Webhook deliveries" in page and "receiver exploded" in page
    assert page.count('data-testid="delivery-row"') == 2  # the failure and its pending retry
    replay = f"/jobs/{job['id']}/deliveries/{first['id']}/replay"
    partial = client.post(replay, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.get_data(as_text=True).count('data-state="PENDING"') == 2
    assert any(d["replay"] for d in deliveries(client, headers, job["id"]))


def test_the_api_keys_page_shows_and_rotates_the_secret(client, login_as, user):
    login_as(user)
    assert "Create secret" in client.get("/api-keys").get_data(as_text=True)
    rotated = client.post("/settings/webhook-secret/rotate", headers={"HX-Request": "true"})
    assert rotated.status_code == 200
    page = client.get("/api-keys").get_data(as_text=True)
    assert "whsec_" in page and "Rotate secret" in page


def test_a_stranger_cannot_see_or_replay_on_the_pages(
    client, api_headers, login_as, user, receiver
):
    hook = receiver(200)
    headers = api_headers(user)
    job = submit(client, headers, hook.url)
    run_job(job["id"], worker=True)
    webhooks.deliver_due()
    (first,) = deliveries(client, headers, job["id"])
    stranger = UserFactory()
    db.session.commit()
    login_as(stranger)
    assert client.get(f"/jobs/{job['id']}/deliveries").status_code == 404
    replay = f"/jobs/{job['id']}/deliveries/{first['id']}/replay"
    assert client.post(replay).status_code == 404
    assert len(deliveries(client, headers, job["id"])) == 1
