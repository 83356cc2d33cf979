"""Issue 18's audit findings, each as it was measured: these failed before the policies.

1. a stranger ran private and draft app versions through ``POST /api/v1/jobs`` and the job
   page printed the private program's source;
2. a subscription key acted as its owner's whole account (projects, files, jobs, results,
   API keys, sessions, bills) and cancelled an unrelated queued job;
3. posting to another user's bill-payment form redirected with a message instead of 404.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.accounts.tokens import issue_tokens
from portal.apps.models import AppVisibility
from portal.billing import services as billing
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import Job, JobStatus
from tests.factories.accounts import UserFactory, make_api_key
from tests.factories.apps import QuantumAppFactory, add_version, registry_app
from tests.factories.billing import completed_job
from tests.factories.execution import JobFactory
from tests.factories.marketplace import listed_app, simulator, trial_with_key
from tests.factories.projects import ProjectFactory

RUN = {"device": "aer-simulator", "shots": 100}  # a subscription key runs its app
SECRET_MARK = "// the private program's secret"


def _secret_program(program: str) -> str:
    return program.replace("OPENQASM 3.0;", f"OPENQASM 3.0;\n{SECRET_MARK}", 1)


def _jobs_of(user_id) -> int:
    return db.session.execute(
        sa.select(sa.func.count(Job.id)).where(Job.user_id == user_id)
    ).scalar_one()


def _run(client, headers, version_id):
    body = {"app_version_id": str(version_id), "device": "aer-simulator", "shots": 100}
    return client.post("/api/v1/jobs", json=body, headers=headers)


# -- 1. who may run an app version, and who sees its program ----------------------------------


def test_a_stranger_cannot_run_private_or_draft_versions(client, api_headers):
    ensure_catalogue()
    private = QuantumAppFactory(visibility=AppVisibility.PRIVATE)
    private_released = add_version(private)
    private_draft = add_version(private, number="1.1.0", publish=False)
    public = registry_app()
    public_draft = add_version(public, number="2.0.0-beta", publish=False)
    stranger = UserFactory()
    headers = api_headers(stranger)
    stranger_id = stranger.id
    assert client.get(f"/api/v1/quantum-apps/{private.id}", headers=headers).status_code == 404
    for version in (private_released, private_draft, public_draft):
        response = _run(client, headers, version.id)
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["error"]["code"] == "not_found"
    assert _jobs_of(stranger_id) == 0  # nothing was queued


def test_the_developer_runs_their_drafts_and_anyone_a_public_release(client, api_headers):
    ensure_catalogue()
    app = QuantumAppFactory(visibility=AppVisibility.PRIVATE)
    draft = add_version(app, publish=False)
    developer_headers = api_headers(app.developer)
    assert _run(client, developer_headers, draft.id).status_code == 201
    public = registry_app()
    released = public.versions[0]
    assert _run(client, api_headers(UserFactory()), released.id).status_code == 201


def test_a_job_of_another_developers_app_never_shows_its_source(client, api_headers, login_as):
    ensure_catalogue()
    app = QuantumAppFactory(name="Secret Sauce")
    version = add_version(app)
    version.entry_program = _secret_program(version.entry_program)
    from portal.apps import services as apps

    apps.publish_to_registry(app)
    consumer = UserFactory()
    headers = api_headers(consumer)
    job_id = _run(client, headers, version.id).get_json()["id"]
    detail = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
    assert detail["program_source"] is None
    assert detail["app"] == "app Secret Sauce, version 1.0.0"
    login_as(consumer)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "app Secret Sauce, version 1.0.0" in page
    assert SECRET_MARK not in page and "OpenQASM source" not in page
    # The developer's own run shows the program.
    mine = _run(client, api_headers(app.developer), version.id).get_json()["id"]
    own = client.get(f"/api/v1/jobs/{mine}", headers=api_headers(app.developer)).get_json()
    assert SECRET_MARK in own["program_source"]


# -- 2. a subscription key is no key to its owner's account -----------------------------------


def test_a_subscription_key_reaches_nothing_of_its_owners_account(client):
    simulator()
    owner = UserFactory()
    _user, sub, raw = trial_with_key(listed_app(), user=owner)
    project = ProjectFactory(user=owner)
    path = sorted(f.path for f in project.files)[0]
    unrelated = JobFactory(user=owner, hardware=simulator())
    issue_tokens(owner)  # a session the key must not list
    bill = billing._bill_for(owner.id, billing.utcnow())
    key_row, _ = make_api_key(owner)
    owner_id, unrelated_id = owner.id, unrelated.id
    headers = {"X-API-Key": raw}
    refused = [
        "/api/v1/projects/",
        f"/api/v1/projects/{project.id}",
        f"/api/v1/projects/{project.id}/files/{path}",
        "/api/v1/api-keys",
        f"/api/v1/api-keys/{key_row.id}",
        f"/api/v1/users/{owner_id}/sessions",
        f"/api/v1/users/{owner_id}",
        "/api/v1/bills",
        f"/api/v1/bills/{bill.id}",
        "/api/v1/subscriptions",
        f"/api/v1/subscriptions/{sub.id}",
        "/api/v1/auth/me",
    ]
    for url in refused:
        response = client.get(url, headers=headers)
        assert response.status_code == 403, (url, response.get_json())
        assert response.get_json()["error"]["code"] == "subscription_key_not_allowed"
    for url in (f"/api/v1/jobs/{unrelated_id}", f"/api/v1/jobs/{unrelated_id}/result"):
        assert client.get(url, headers=headers).status_code == 404, url
    listed = client.get("/api/v1/jobs", headers=headers).get_json()
    assert listed["total"] == 0  # the owner's other jobs are not the key's
    assert client.delete(f"/api/v1/jobs/{unrelated_id}", headers=headers).status_code == 404
    assert db.session.get(Job, unrelated_id).status is JobStatus.QUEUED


def test_a_subscription_key_reads_and_cancels_the_jobs_it_started(client):
    simulator()
    _user, _sub, raw = trial_with_key(listed_app())
    headers = {"X-API-Key": raw}
    started = client.post("/api/v1/jobs", json=RUN, headers=headers)
    assert started.status_code == 201, started.get_json()
    job_id = started.get_json()["id"]
    assert started.get_json()["program_source"] is None  # the provider's program
    assert client.get(f"/api/v1/jobs/{job_id}", headers=headers).status_code == 200
    assert client.get("/api/v1/jobs", headers=headers).get_json()["total"] == 1
    cancelled = client.delete(f"/api/v1/jobs/{job_id}", headers=headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "CANCELLED"


def test_another_key_of_the_same_subscription_cannot_touch_the_job(client):
    from portal.marketplace import keys

    simulator()
    _user, sub, raw = trial_with_key(listed_app())
    _other, other_raw = keys.create_key(sub, name="second")
    job_id = client.post("/api/v1/jobs", json=RUN, headers={"X-API-Key": raw}).get_json()["id"]
    other = {"X-API-Key": other_raw}
    assert client.get(f"/api/v1/jobs/{job_id}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/jobs/{job_id}", headers=other).status_code == 404


def test_read_only_api_keys_cannot_submit_or_cancel(client):
    ensure_catalogue()
    owner = UserFactory()
    job = JobFactory(user=owner, hardware=simulator())
    _key, raw = make_api_key(owner, scopes=("read",))
    job_id = job.id
    headers = {"X-API-Key": raw}
    body = {"device": "aer-simulator", "shots": 10, "program": {"source": "OPENQASM 2.0;"}}
    assert client.post("/api/v1/jobs", json=body, headers=headers).status_code == 403
    assert client.delete(f"/api/v1/jobs/{job_id}", headers=headers).status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}", headers=headers).status_code == 200
    assert db.session.get(Job, job_id).status is JobStatus.QUEUED


# -- 3. another user's bill-payment form is 404 -----------------------------------------------


def test_paying_another_users_bill_is_404(client, login_as):
    owner = UserFactory()
    start, _ = billing.previous_period()
    completed_job(owner, "2.00", finished_at=start + timedelta(days=2))
    bill_id = billing.close_period().bill_ids[0]
    login_as(UserFactory())
    response = client.post(f"/billing/{bill_id}/pay")
    assert response.status_code == 404
    from portal.billing.models import UserBill

    assert db.session.get(UserBill, bill_id).payment_status == billing.PENDING


def test_a_project_run_fragment_never_draws_another_developers_program(
    client, login_as, monkeypatch
):
    from portal.projects import services as projects

    monkeypatch.setattr(projects, "draw_circuit", lambda circuit: "DRAWN-CIRCUIT")
    app = registry_app()
    version = app.versions[0]
    consumer = UserFactory()
    project = ProjectFactory(user=consumer)
    theirs = JobFactory(
        user=consumer, hardware=simulator(), status=JobStatus.COMPLETED,
        app_version_id=version.id, program_source=version.entry_program, program_format="qasm3",
    )  # fmt: skip
    own = JobFactory(user=consumer, hardware=simulator(), status=JobStatus.COMPLETED)
    project_id, theirs_id, own_id = project.id, theirs.id, own.id
    login_as(consumer)
    shown = client.get(f"/projects/{project_id}/runs/{theirs_id}")
    assert shown.status_code == 200 and "DRAWN-CIRCUIT" not in shown.get_data(as_text=True)
    mine = client.get(f"/projects/{project_id}/runs/{own_id}").get_data(as_text=True)
    assert "DRAWN-CIRCUIT" in mine
