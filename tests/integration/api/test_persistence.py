"""Every write operation of the JSON API saves what it says it saves.

The operations come from the OpenAPI document; each one has a case below (or a justified
entry in ``NO_PERSISTENT_EFFECT``), and ``test_every_write_operation_has_a_case`` fails on an
operation without one and on a case for an operation that no longer exists.

A case commits its setup, sends the operation once (with a bearer token, unless it needs no
sign-in or a signature) in a request of its own, then reads the effect back in a LATER request
and over a BRAND-NEW database connection: a route that answers 2xx but never commits fails
here, even though a test that shares one session across requests would see its rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from portal.accounts.passwords import verify_password
from portal.accounts.services import reset_token
from portal.accounts.tokens import issue_tokens
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import JobStatus
from portal.marketplace import keys, reviews
from portal.marketplace.models import SubscriptionStatus, SubscriptionType
from tests.build_checks import run_build_checks
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory, make_api_key
from tests.factories.apps import ROTATION, QuantumAppFactory, add_version, registry_app
from tests.factories.execution import BELL_QASM2, JobFactory
from tests.factories.marketplace import listed_app, paid_subscription, simulator, trial_with_key
from tests.factories.projects import ProjectFactory
from tests.factories.webhooks import webhook_delivery
from tests.integration.api.conftest import World
from tests.integration.payments.conftest import WEBHOOK_SECRET, sign

V1 = "/api/v1"
NEW_PASSWORD = "Brand-New-Secret-77"

# Write operations whose effect is not a database row, and why.
NO_PERSISTENT_EFFECT = {
    ("POST", f"{V1}/auth/reset-password"): "Only mails a link; the reset token is stateless "
    "(signed, bound to the current password hash), so nothing is stored.",
    ("POST", f"{V1}/jobs/estimate"): "Prices a run and parses the program; stores nothing.",
    ("POST", f"{V1}/projects/{{project_id}}/analyse"): "Parses a program and reports "
    "diagnostics and resource figures; stores nothing.",
    ("POST", f"{V1}/projects/{{project_id}}/build"): "Builds and validates the package in "
    "memory and returns the report; nothing is stored until a release (the simulation "
    "check's result is kept in Redis only, as a cache).",
}

CASES: dict[tuple[str, str], Callable[[World], None]] = {}


def case(method: str, path: str):
    """Register the function as the case of ``method path`` (path relative to /api/v1)."""

    def register(function):
        CASES[(method, V1 + path)] = function
        return function

    return register


# --- accounts: sign-up, sign-in, tokens ----------------------------------------------------


@case("POST", "/auth/register")
def register(w: World):
    body = {"username": "ada", "email": "ada@example.com", "password": "Analytical-1843"}
    w.write("POST", "/auth/register", json=body)
    row = w.row("SELECT email_verified_at FROM users WHERE username = 'ada'")
    assert row is not None, "no users row for the registered account"
    later = w.request("POST", "/auth/login", json={"login": "ada", "password": body["password"]})
    assert later.json["error"]["code"] == "email_unverified"  # the account exists


@case("POST", "/auth/login")
def login(w: World):
    user = UserFactory()
    user_id, username = w.commit(user.id, user.username)
    body = {"login": username, "password": DEFAULT_PASSWORD}
    tokens = w.write("POST", "/auth/login", json=body).json
    session = w.row(
        "SELECT user_id, is_active FROM user_sessions WHERE id = %s", tokens["session_id"]
    )
    assert session == {"user_id": user_id, "is_active": True}, "no user_sessions row for sign-in"
    assert w.row("SELECT last_login FROM users WHERE id = %s", user_id)["last_login"] is not None
    me = w.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.json


@case("POST", "/auth/refresh")
def refresh(w: World):
    pair = issue_tokens(UserFactory())
    pair.session.last_seen_at = datetime(2000, 1, 1, tzinfo=UTC)
    session_id, refresh_token = w.commit(pair.session.id, pair.refresh_token)
    access = w.write("POST", "/auth/refresh", json={"refresh_token": refresh_token}).json
    seen = w.row("SELECT last_seen_at FROM user_sessions WHERE id = %s", session_id)
    assert seen["last_seen_at"].year > 2000, "the session's last_seen_at was not saved"
    me = w.get("/auth/me", headers={"Authorization": f"Bearer {access['access_token']}"})
    assert me.status_code == 200, me.json


@case("POST", "/auth/logout")
def logout(w: World):
    pair = issue_tokens(UserFactory())
    session_id, headers = w.commit(
        pair.session.id, {"Authorization": f"Bearer {pair.access_token}"}
    )
    w.write("POST", "/auth/logout", headers=headers)
    row = w.row("SELECT is_active FROM user_sessions WHERE id = %s", session_id)
    assert row == {"is_active": False}, "the session is still active in the database"
    assert w.get("/auth/me", headers=headers).status_code == 401


@case("POST", "/auth/reset-password/{token}")
def reset_password(w: World):
    user = UserFactory()
    old = issue_tokens(user)
    user_id, token, old_session = w.commit(user.id, reset_token(user), old.session.id)
    w.write("POST", f"/auth/reset-password/{token}", json={"password": NEW_PASSWORD})
    row = w.row("SELECT username, hashed_password FROM users WHERE id = %s", user_id)
    assert verify_password(NEW_PASSWORD, row["hashed_password"]), "the new password was not saved"
    ended = w.row("SELECT is_active FROM user_sessions WHERE id = %s", old_session)
    assert ended == {"is_active": False}
    login = {"login": row["username"], "password": NEW_PASSWORD}
    assert w.request("POST", "/auth/login", json=login).status_code == 200


# --- accounts: users, profiles, preferences, sessions, API keys -----------------------------


@case("PUT", "/users/{user_id}")
def update_user(w: World):
    user = UserFactory()
    user_id, headers = w.commit(user.id, w.bearer(user))
    w.write("PUT", f"/users/{user_id}", json={"full_name": "Changed Name"}, headers=headers)
    assert w.value("SELECT full_name FROM users WHERE id = %s", user_id) == "Changed Name"
    assert w.get(f"/users/{user_id}", headers=headers).json["full_name"] == "Changed Name"


@case("DELETE", "/users/{user_id}")
def delete_user(w: World):
    user, admin = UserFactory(), UserFactory(admin=True)
    user_id, headers, admin_headers = w.commit(user.id, w.bearer(user), w.bearer(admin))
    w.write("DELETE", f"/users/{user_id}", headers=headers)
    assert w.row("SELECT id FROM users WHERE id = %s", user_id) is None, "still there"
    assert w.get(f"/users/{user_id}", headers=admin_headers).status_code == 404


@case("PUT", "/users/{user_id}/profile")
def update_profile(w: World):
    user = UserFactory()
    user_id, headers = w.commit(user.id, w.bearer(user))
    url = f"/users/{user_id}/profile"
    w.write("PUT", url, json={"organization": "Qubits Inc"}, headers=headers)
    assert (
        w.value("SELECT organization FROM user_profiles WHERE user_id = %s", user_id)
        == "Qubits Inc"
    )
    assert w.get(url, headers=headers).json["organization"] == "Qubits Inc"


@case("PUT", "/users/{user_id}/preferences")
def update_preferences(w: World):
    user = UserFactory()
    user_id, headers = w.commit(user.id, w.bearer(user))
    url = f"/users/{user_id}/preferences"
    w.write("PUT", url, json={"default_shots": 2048}, headers=headers)
    assert w.value("SELECT preferences->'default_shots' FROM users WHERE id = %s", user_id) == 2048
    assert w.get(url, headers=headers).json["default_shots"] == 2048


@case("DELETE", "/users/{user_id}/sessions/{session_id}")
def revoke_session(w: World):
    user = UserFactory()
    other = issue_tokens(user)
    user_id, headers, session_id, token = w.commit(
        user.id, w.bearer(user), other.session.id, other.access_token
    )
    w.write("DELETE", f"/users/{user_id}/sessions/{session_id}", headers=headers)
    row = w.row("SELECT is_active FROM user_sessions WHERE id = %s", session_id)
    assert row == {"is_active": False}, "the session is still active in the database"
    assert w.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@case("POST", "/api-keys")
def create_api_key(w: World):
    user = UserFactory()
    headers = w.commit(w.bearer(user))
    created = w.write("POST", "/api-keys", json={"name": "CI", "scopes": ["read"]}, headers=headers)
    row = w.row("SELECT name, status, value FROM user_api_keys WHERE id = %s", created.json["id"])
    assert row is not None, "no user_api_keys row"
    assert (row["name"], row["status"]) == ("CI", "ACTIVE") and row["value"] != created.json["key"]
    assert w.get(f"/api-keys/{created.json['id']}", headers=headers).status_code == 200
    assert w.get("/auth/me", headers={"X-API-Key": created.json["key"]}).status_code == 200


@case("PUT", "/api-keys/{key_id}")
def update_api_key(w: World):
    user = UserFactory()
    key, _raw = make_api_key(user)
    key_id, headers = w.commit(key.id, w.bearer(user))
    w.write("PUT", f"/api-keys/{key_id}", json={"name": "renamed"}, headers=headers)
    assert w.value("SELECT name FROM user_api_keys WHERE id = %s", key_id) == "renamed"
    assert w.get(f"/api-keys/{key_id}", headers=headers).json["name"] == "renamed"


@case("DELETE", "/api-keys/{key_id}")
def revoke_api_key(w: World):
    user = UserFactory()
    key, raw = make_api_key(user)
    key_id, headers = w.commit(key.id, w.bearer(user))
    w.write("DELETE", f"/api-keys/{key_id}", headers=headers)
    assert w.value("SELECT status FROM user_api_keys WHERE id = %s", key_id) == "REVOKED"
    assert w.get(f"/api-keys/{key_id}", headers=headers).json["status"] == "REVOKED"
    assert w.get("/auth/me", headers={"X-API-Key": raw}).status_code == 401


# --- apps and the registry -------------------------------------------------------------------


@case("POST", "/quantum-apps/")
def create_app(w: World):
    provider = UserFactory(provider=True)
    provider_id, headers = w.commit(provider.id, w.bearer(provider))
    body = {"name": "Rotation", "description": "Rotate", "visibility": "PUBLIC"}
    app_id = w.write("POST", "/quantum-apps/", json=body, headers=headers).json["id"]
    row = w.row("SELECT name, developer_id FROM quantum_apps WHERE id = %s", app_id)
    assert row == {"name": "Rotation", "developer_id": provider_id}, row
    assert w.get(f"/quantum-apps/{app_id}", headers=headers).status_code == 200


@case("PUT", "/quantum-apps/{app_id}")
def update_app(w: World):
    app = QuantumAppFactory()
    app_id, headers = w.commit(app.id, w.bearer(app.developer))
    w.write("PUT", f"/quantum-apps/{app_id}", json={"description": "Changed"}, headers=headers)
    assert w.value("SELECT description FROM quantum_apps WHERE id = %s", app_id) == "Changed"
    assert w.get(f"/quantum-apps/{app_id}", headers=headers).json["description"] == "Changed"


@case("DELETE", "/quantum-apps/{app_id}")
def delete_app(w: World):
    app = QuantumAppFactory()
    app_id, headers = w.commit(app.id, w.bearer(app.developer))
    w.write("DELETE", f"/quantum-apps/{app_id}", headers=headers)
    assert w.row("SELECT id FROM quantum_apps WHERE id = %s", app_id) is None, "still there"
    assert w.get(f"/quantum-apps/{app_id}", headers=headers).status_code == 404


@case("POST", "/quantum-apps/{app_id}/publish-registry")
def publish_registry(w: World):
    app = QuantumAppFactory()
    add_version(app)
    app_id, headers = w.commit(app.id, w.bearer(app.developer))
    w.write("POST", f"/quantum-apps/{app_id}/publish-registry", headers=headers)
    assert w.value("SELECT is_in_registry FROM quantum_apps WHERE id = %s", app_id) is True
    assert w.get(f"/registry/{app_id}").status_code == 200


@case("POST", "/quantum-apps/{app_id}/versions")
def create_version(w: World):
    app = QuantumAppFactory()
    app_id, headers = w.commit(app.id, w.bearer(app.developer))
    body = {"version_number": "1.0.0", "entry_program": ROTATION, "publish": True}
    version = w.write("POST", f"/quantum-apps/{app_id}/versions", json=body, headers=headers).json
    row = w.row("SELECT version_number, status FROM app_versions WHERE id = %s", version["id"])
    assert row == {"version_number": "1.0.0", "status": "PUBLISHED"}, row
    url = f"/quantum-apps/{app_id}/versions/{version['id']}"
    assert w.get(url, headers=headers).status_code == 200


@case("PUT", "/quantum-apps/{app_id}/versions/{version_id}")
def update_version(w: World):
    app = QuantumAppFactory()
    version = add_version(app)
    app_id, version_id, headers = w.commit(app.id, version.id, w.bearer(app.developer))
    url = f"/quantum-apps/{app_id}/versions/{version_id}"
    w.write("PUT", url, json={"release_notes": "Changed notes."}, headers=headers)
    assert (
        w.value("SELECT release_notes FROM app_versions WHERE id = %s", version_id)
        == "Changed notes."
    )
    assert w.get(url, headers=headers).json["release_notes"] == "Changed notes."


@case("DELETE", "/quantum-apps/{app_id}/versions/{version_id}")
def delete_version(w: World):
    app = QuantumAppFactory()
    draft = add_version(app, publish=False)
    app_id, version_id, headers = w.commit(app.id, draft.id, w.bearer(app.developer))
    url = f"/quantum-apps/{app_id}/versions/{version_id}"
    w.write("DELETE", url, headers=headers)
    assert w.row("SELECT id FROM app_versions WHERE id = %s", version_id) is None, "still there"
    assert w.get(url, headers=headers).status_code == 404


@case("POST", "/registry/download/{app_id}")
def registry_download(w: World):
    app_id = w.commit(registry_app().id)
    response = w.write("POST", f"/registry/download/{app_id}")
    assert response.data.startswith(b"PK")
    assert w.value("SELECT registry_download_count FROM quantum_apps WHERE id = %s", app_id) == 1
    assert w.value("SELECT downloads FROM app_metrics WHERE quantum_app_id = %s", app_id) == 1
    assert w.get(f"/registry/{app_id}").json["metrics"]["downloads"] == 1


# --- execution -------------------------------------------------------------------------------


@case("POST", "/jobs")
def submit_job(w: World):
    ensure_catalogue()
    user = UserFactory()
    headers = w.commit(w.bearer(user))
    body = {"device": "aer-simulator", "shots": 200, "program": {"source": BELL_QASM2}}
    job_id = w.write("POST", "/jobs", json=body, headers=headers).json["id"]
    row = w.row("SELECT status, shots FROM jobs WHERE id = %s", job_id)
    assert row == {"status": "QUEUED", "shots": 200}, row
    assert w.get(f"/jobs/{job_id}", headers=headers).json["status"] == "QUEUED"


@case("DELETE", "/jobs/{job_id}")
def cancel_job(w: World):
    user = UserFactory()
    job_id, headers = w.commit(JobFactory(user=user).id, w.bearer(user))
    w.write("DELETE", f"/jobs/{job_id}", headers=headers)
    assert w.value("SELECT status FROM jobs WHERE id = %s", job_id) == "CANCELLED"
    assert w.get(f"/jobs/{job_id}", headers=headers).json["status"] == "CANCELLED"


@case("PATCH", "/jobs/{job_id}")
def tag_job(w: World):
    user = UserFactory()
    job_id, headers = w.commit(JobFactory(user=user).id, w.bearer(user))
    w.write("PATCH", f"/jobs/{job_id}", json={"tags": ["paper", "bell"]}, headers=headers)
    assert w.value("SELECT tags FROM jobs WHERE id = %s", job_id) == ["bell", "paper"]
    assert w.get(f"/jobs/{job_id}", headers=headers).json["tags"] == ["bell", "paper"]


# --- projects --------------------------------------------------------------------------------


def _project(w: World):
    """A committed Bell-pair project: (project id, its owner's bearer header)."""
    owner = UserFactory(provider=True)
    project = ProjectFactory(user=owner, name="Bell lab")
    return w.commit(project.id, w.bearer(owner))


def _file(w: World, project_id, path: str) -> dict | None:
    return w.row(
        "SELECT content FROM project_files WHERE project_id = %s AND path = %s", project_id, path
    )


@case("POST", "/projects/")
def create_project(w: World):
    owner = UserFactory(provider=True)
    headers = w.commit(w.bearer(owner))
    body = {"name": "Mine", "template": "bell"}
    project_id = w.write("POST", "/projects/", json=body, headers=headers).json["id"]
    row = w.row("SELECT name FROM projects WHERE id = %s", project_id)
    assert row == {"name": "Mine"}, f"projects row {project_id} over a fresh connection: {row}"
    assert _file(w, project_id, "main.qasm") is not None, "no starter files saved"
    assert w.get(f"/projects/{project_id}", headers=headers).status_code == 200


@case("POST", "/projects/fork")
def fork_project(w: World):
    version_id = registry_app().latest_version.id
    user = UserFactory()
    user_id = str(user.id)
    version_id, headers = w.commit(version_id, w.bearer(user))
    body = {"app_version_id": str(version_id)}
    project_id = w.write("POST", "/projects/fork", json=body, headers=headers).json["id"]
    row = w.row("SELECT user_id FROM projects WHERE id = %s", project_id)
    assert str(row["user_id"]) == user_id, row
    paths = w.rows("SELECT path FROM project_files WHERE project_id = %s", project_id)
    assert any(r["path"].endswith(".qasm") for r in paths), paths
    assert w.get(f"/projects/{project_id}", headers=headers).status_code == 200


@case("PUT", "/projects/{project_id}")
def update_project(w: World):
    project_id, headers = _project(w)
    w.write("PUT", f"/projects/{project_id}", json={"name": "Renamed"}, headers=headers)
    row = w.row("SELECT name FROM projects WHERE id = %s", project_id)
    assert row == {"name": "Renamed"}, f"projects row over a fresh connection: {row}"
    assert w.get(f"/projects/{project_id}", headers=headers).json["name"] == "Renamed"


@case("DELETE", "/projects/{project_id}")
def delete_project(w: World):
    project_id, headers = _project(w)
    w.write("DELETE", f"/projects/{project_id}", headers=headers)
    row = w.row("SELECT name FROM projects WHERE id = %s", project_id)
    assert row is None, f"projects row still there over a fresh connection: {row}"
    assert not w.rows("SELECT id FROM project_files WHERE project_id = %s", project_id)
    assert w.get(f"/projects/{project_id}", headers=headers).status_code == 404


@case("POST", "/projects/{project_id}/files")
def create_file(w: World):
    project_id, headers = _project(w)
    body = {"path": "lib/ghz.qasm", "content": "// hi\n"}
    w.write("POST", f"/projects/{project_id}/files", json=body, headers=headers)
    row = _file(w, project_id, "lib/ghz.qasm")
    assert row == {"content": "// hi\n"}, f"project_files row over a fresh connection: {row}"
    url = f"/projects/{project_id}/files/lib/ghz.qasm"
    assert w.get(url, headers=headers).json["content"] == "// hi\n"


@case("PUT", "/projects/{project_id}/files/{path}")
def write_file(w: World):
    project_id, headers = _project(w)
    url = f"/projects/{project_id}/files/main.qasm"
    w.write("PUT", url, json={"content": "// rewritten\n"}, headers=headers)
    row = _file(w, project_id, "main.qasm")
    assert row == {"content": "// rewritten\n"}, f"main.qasm over a fresh connection: {row}"
    assert w.get(url, headers=headers).json["content"] == "// rewritten\n"


@case("PATCH", "/projects/{project_id}/files/{path}")
def rename_file(w: World):
    project_id, headers = _project(w)
    files = f"/projects/{project_id}/files"
    w.write("PATCH", f"{files}/main.qasm", json={"path": "bell.qasm"}, headers=headers)
    moved = _file(w, project_id, "bell.qasm")
    assert moved is not None, "no bell.qasm over a fresh connection"
    assert _file(w, project_id, "main.qasm") is None
    assert w.get(f"{files}/bell.qasm", headers=headers).status_code == 200


@case("DELETE", "/projects/{project_id}/files/{path}")
def delete_file(w: World):
    project_id, headers = _project(w)
    url = f"/projects/{project_id}/files/README.md"
    w.write("DELETE", url, headers=headers)
    row = _file(w, project_id, "README.md")
    assert row is None, f"README.md still there over a fresh connection: {row}"
    assert w.get(url, headers=headers).status_code == 404


@case("POST", "/projects/{project_id}/release")
def release_project(w: World):
    project_id, headers = _project(w)
    body = {"name": "Bell release", "version": "0.1.0"}
    # The build's simulation runs on a worker: build, run the check as a worker does.
    w.get(f"/projects/{project_id}/build?version=0.1.0", headers=headers)
    assert run_build_checks() == 1
    released = w.write("POST", f"/projects/{project_id}/release", json=body, headers=headers).json
    row = w.row("SELECT quantum_app_id FROM projects WHERE id = %s", project_id)
    assert row == {"quantum_app_id": uuid.UUID(released["app_id"])}, (
        f"projects row over a fresh connection: {row}"
    )
    version = w.row("SELECT version_number FROM app_versions WHERE id = %s", released["version_id"])
    assert version == {"version_number": "0.1.0"}, version
    assert w.get(f"/quantum-apps/{released['app_id']}", headers=headers).status_code == 200


# --- marketplace -----------------------------------------------------------------------------


def _listing():
    simulator()
    return listed_app()


@case("POST", "/quantum-apps/{app_id}/publish-marketplace")
def publish_marketplace(w: World):
    simulator()
    app = QuantumAppFactory()
    add_version(app)
    app_id, headers = w.commit(app.id, w.bearer(app.developer))
    body = {"price": "12.50", "subscription_types": ["TRIAL", "MONTHLY"]}
    url = f"/quantum-apps/{app_id}/publish-marketplace"
    listing_id = w.write("POST", url, json=body, headers=headers).json["id"]
    row = w.row("SELECT quantum_app_id, status FROM marketplace_listings WHERE id = %s", listing_id)
    assert row == {"quantum_app_id": app_id, "status": "ACTIVE"}, row
    assert w.get(f"/marketplace/{listing_id}").json["price"] == "12.50"


@case("PUT", "/marketplace/{listing_id}")
def pause_listing(w: World):
    listing = _listing()
    listing_id, headers = w.commit(listing.id, w.bearer(listing.app.developer))
    url = f"/marketplace/{listing_id}"
    w.write("PUT", url, json={"status": "PAUSED"}, headers=headers)
    assert w.value("SELECT status FROM marketplace_listings WHERE id = %s", listing_id) == "PAUSED"
    assert w.get(url, headers=headers).json["status"] == "PAUSED"


@case("POST", "/marketplace/{listing_id}/trial")
def start_trial(w: World):
    listing, user = _listing(), UserFactory()
    listing_id, headers = w.commit(listing.id, w.bearer(user))
    sub_id = w.write("POST", f"/marketplace/{listing_id}/trial", headers=headers).json["id"]
    row = w.row("SELECT subscription_type, status FROM subscriptions WHERE id = %s", sub_id)
    assert row == {"subscription_type": "TRIAL", "status": "ACTIVE"}, row
    assert w.get(f"/subscriptions/{sub_id}", headers=headers).json["status"] == "ACTIVE"


@case("POST", "/marketplace/{listing_id}/subscribe")
def subscribe(w: World):
    w.monkeypatch.setitem(w.app.config, "STRIPE_SECRET_KEY", None)  # the local test provider
    listing, user = _listing(), UserFactory()
    listing_id, headers = w.commit(listing.id, w.bearer(user))
    url = f"/marketplace/{listing_id}/subscribe"
    body = w.write("POST", url, json={"subscription_type": "MONTHLY"}, headers=headers).json
    sub_id = body["subscription"]["id"]
    row = w.row("SELECT status, checkout_session_id FROM subscriptions WHERE id = %s", sub_id)
    assert row == {"status": "PENDING", "checkout_session_id": body["checkout_session_id"]}, row
    assert w.get(f"/subscriptions/{sub_id}", headers=headers).json["status"] == "PENDING"


@case("POST", "/marketplace/{listing_id}/reviews")
def add_review(w: World):
    listing = _listing()
    user, _sub, _key = trial_with_key(listing)
    listing_id, headers = w.commit(listing.id, w.bearer(user))
    url = f"/marketplace/{listing_id}/reviews"
    review_id = w.write("POST", url, json={"rating": 5, "title": "Great"}, headers=headers).json[
        "id"
    ]
    assert w.row("SELECT rating, title FROM reviews WHERE id = %s", review_id) == {
        "rating": 5,
        "title": "Great",
    }
    assert [r["id"] for r in w.get(url).json["items"]] == [review_id]


def _review(w: World):
    listing = _listing()
    user, _sub, _key = trial_with_key(listing)
    review = reviews.add_review(user, listing, rating=4, title="Fine")
    listing_id, review_id, headers = w.commit(listing.id, review.id, w.bearer(user))
    return f"/marketplace/{listing_id}/reviews", review_id, headers


@case("PUT", "/marketplace/{listing_id}/reviews/{review_id}")
def update_review(w: World):
    reviews, review_id, headers = _review(w)
    w.write("PUT", f"{reviews}/{review_id}", json={"rating": 2, "title": "Meh"}, headers=headers)
    assert w.value("SELECT rating FROM reviews WHERE id = %s", review_id) == 2
    assert w.get(reviews).json["items"][0]["rating"] == 2


@case("DELETE", "/marketplace/{listing_id}/reviews/{review_id}")
def delete_review(w: World):
    reviews, review_id, headers = _review(w)
    w.write("DELETE", f"{reviews}/{review_id}", headers=headers)
    assert w.row("SELECT id FROM reviews WHERE id = %s", review_id) is None, "still there"
    assert w.get(reviews).json["items"] == []


@case("POST", "/marketplace/{listing_id}/jobs")
def run_app(w: World):
    listing = _listing()
    user, sub, _key = trial_with_key(listing)  # a signed-in subscriber, no key needed
    listing_id, sub_id, headers = w.commit(listing.id, sub.id, w.bearer(user))
    job_id = w.write("POST", f"/marketplace/{listing_id}/jobs", json={}, headers=headers).json["id"]
    row = w.row("SELECT status, subscription_id FROM jobs WHERE id = %s", job_id)
    assert row == {"status": "QUEUED", "subscription_id": sub_id}, row
    left = w.row("SELECT remaining_usage_count FROM subscriptions WHERE id = %s", sub_id)
    assert left == {"remaining_usage_count": 2}, "the run was not counted"
    assert w.get(f"/jobs/{job_id}", headers=headers).json["status"] == "QUEUED"


def _subscription(w: World):
    user, sub, _key = trial_with_key(_listing())
    return w.commit(sub.id, w.bearer(user))


@case("PUT", "/subscriptions/{sub_id}")
def cancel_subscription(w: World):
    sub_id, headers = _subscription(w)
    url = f"/subscriptions/{sub_id}"
    w.write("PUT", url, json={"status": "CANCELLED"}, headers=headers)
    assert w.value("SELECT status FROM subscriptions WHERE id = %s", sub_id) == "CANCELLED"
    assert w.get(url, headers=headers).json["status"] == "CANCELLED"


@case("DELETE", "/subscriptions/{sub_id}")
def end_subscription(w: World):
    sub_id, headers = _subscription(w)
    url = f"/subscriptions/{sub_id}"
    w.write("DELETE", url, headers=headers)
    assert w.value("SELECT status FROM subscriptions WHERE id = %s", sub_id) == "CANCELLED"
    assert w.get(url, headers=headers).json["status"] == "CANCELLED"


@case("POST", "/subscriptions/{sub_id}/keys")
def create_subscription_key(w: World):
    sub_id, headers = _subscription(w)
    url = f"/subscriptions/{sub_id}/keys"
    key_id = w.write("POST", url, json={"name": "ci"}, headers=headers).json["id"]
    row = w.row("SELECT name, status, subscription_id FROM subscription_keys WHERE id = %s", key_id)
    assert row == {"name": "ci", "status": "ACTIVE", "subscription_id": sub_id}, row
    assert key_id in {k["id"] for k in w.get(url, headers=headers).json["items"]}


@case("DELETE", "/subscriptions/{sub_id}/keys/{key_id}")
def revoke_subscription_key(w: World):
    user, sub, _plaintext = trial_with_key(_listing())
    key = keys.create_key(sub, name="second")[0]
    sub_id, key_id, headers = w.commit(sub.id, key.id, w.bearer(user))
    w.write("DELETE", f"/subscriptions/{sub_id}/keys/{key_id}", headers=headers)
    assert w.value("SELECT status FROM subscription_keys WHERE id = %s", key_id) == "REVOKED"
    listed = w.get(f"/subscriptions/{sub_id}/keys", headers=headers).json["items"]
    assert {k["id"]: k["status"] for k in listed}[str(key_id)] == "REVOKED"


# --- payments --------------------------------------------------------------------------------


@case("POST", "/payments/stripe/webhook")
def stripe_webhook(w: World):
    w.monkeypatch.setitem(w.app.config, "STRIPE_SECRET_KEY", "sk_test_portal")
    w.monkeypatch.setitem(w.app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    user = UserFactory()
    sub = paid_subscription(_listing(), user, plan=SubscriptionType.MONTHLY)
    sub.status = SubscriptionStatus.PENDING
    sub_id, headers = w.commit(sub.id, w.bearer(user))
    session = {"id": "cs_test_1", "object": "checkout.session", "payment_status": "paid",
               "mode": "subscription", "customer": "cus_test_1", "subscription": "sub_test_1",
               "metadata": {"subscription_id": str(sub_id)}}  # fmt: skip
    event = {"id": "evt_persist_1", "object": "event", "type": "checkout.session.completed",
             "created": int(time.time()), "data": {"object": session}}  # fmt: skip
    payload = json.dumps(event)
    w.write(
        "POST",
        "/payments/stripe/webhook",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload)},
    )
    processed = w.row("SELECT event_type FROM payment_events WHERE event_id = 'evt_persist_1'")
    assert processed == {"event_type": "checkout.session.completed"}, "no processed-event row"
    assert w.value("SELECT status FROM subscriptions WHERE id = %s", sub_id) == "ACTIVE"
    assert w.get(f"/subscriptions/{sub_id}", headers=headers).json["status"] == "ACTIVE"


# --- webhooks --------------------------------------------------------------------------------


@case("POST", "/jobs/{job_id}/deliveries/{delivery_id}/replay")
def replay_delivery(w: World):
    user = UserFactory()
    job = JobFactory(user=user, status=JobStatus.COMPLETED, webhook_url="http://127.0.0.1:9/h")
    first = webhook_delivery(job)
    job_id, delivery_id, headers = w.commit(job.id, first.id, w.bearer(user))
    replayed = w.write(
        "POST", f"/jobs/{job_id}/deliveries/{delivery_id}/replay", headers=headers
    ).json
    row = w.row(
        "SELECT attempt, replay, attempted_at FROM webhook_deliveries WHERE id = %s",
        replayed["id"],
    )
    assert row == {"attempt": 2, "replay": True, "attempted_at": None}, row
    listed = w.get(f"/jobs/{job_id}/deliveries", headers=headers).json["items"]
    assert listed[0]["id"] == replayed["id"]


@case("POST", "/webhook-secret/rotate")
def rotate_webhook_secret(w: World):
    user = UserFactory()
    user_id, headers = w.commit(user.id, w.bearer(user))
    secret = w.write("POST", "/webhook-secret/rotate", headers=headers).json["secret"]
    stored = w.value("SELECT secret FROM webhook_secrets WHERE user_id = %s", user_id)
    assert stored and secret not in stored and stored.startswith("gAAAA"), "not encrypted"
    assert w.get("/webhook-secret", headers=headers).json["secret"] == secret


# --- the tests -------------------------------------------------------------------------------


def test_every_write_operation_has_a_case(openapi_writes):
    """A new write endpoint needs a case (or a justified entry); a stale case fails too."""
    missing = sorted(openapi_writes - set(CASES) - set(NO_PERSISTENT_EFFECT))
    stale = sorted((set(CASES) | set(NO_PERSISTENT_EFFECT)) - openapi_writes)
    both = sorted(set(CASES) & set(NO_PERSISTENT_EFFECT))
    assert not (missing or stale or both), (
        f"write operations without a persistence case: {missing}; "
        f"cases for operations the OpenAPI document no longer has: {stale}; "
        f"operations both tested and listed as having no effect: {both}"
    )
    assert all(len(why) > 20 for why in NO_PERSISTENT_EFFECT.values())


@pytest.mark.parametrize("operation", sorted(CASES), ids=" ".join)
def test_write_persists(world, openapi_writes, operation):
    assert operation in openapi_writes, f"{operation} is not in the OpenAPI document"
    CASES[operation](world)
    assert world.writes == 1, "a case sends its operation exactly once"
    assert world.fresh_reads_after_write, "a case reads back over a fresh connection"
