"""Who may do what: owner / other user / anonymous / admin, for users, profiles, sessions
and API keys. Another user's resource is 404, as if it did not exist."""

import pytest

from portal.accounts.tokens import issue_tokens
from tests.factories.accounts import make_api_key
from tests.integration.accounts.conftest import error_of

# (method, path template, body); {uid} is the owner's id, {sid} a session, {kid} a key.
RESOURCES = [
    ("get", "/api/v1/users/{uid}", None),
    ("put", "/api/v1/users/{uid}", {"full_name": "Changed Name"}),
    ("get", "/api/v1/users/{uid}/profile", None),
    ("put", "/api/v1/users/{uid}/profile", {"organization": "Qubits Inc"}),
    ("get", "/api/v1/users/{uid}/preferences", None),
    ("put", "/api/v1/users/{uid}/preferences", {"default_shots": 2048}),
    ("get", "/api/v1/users/{uid}/sessions", None),
    ("delete", "/api/v1/users/{uid}/sessions/{sid}", None),
    ("get", "/api/v1/api-keys/{kid}", None),
    ("put", "/api/v1/api-keys/{kid}", {"name": "renamed"}),
    ("delete", "/api/v1/api-keys/{kid}", None),
    ("delete", "/api/v1/users/{uid}", None),
]
EXPECTED = {"owner": {200, 204}, "other": {404}, "anonymous": {401}, "admin": {200, 204}}


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize(("method", "path", "body"), RESOURCES)
def test_matrix(client, user, other_user, admin, api_headers, who, method, path, body):
    session = issue_tokens(user).session
    key, _raw = make_api_key(user)
    url = path.format(uid=user.id, sid=session.id, kid=key.id)
    headers = {"owner": api_headers(user), "other": api_headers(other_user),
               "anonymous": {}, "admin": api_headers(admin)}[who]  # fmt: skip
    # Keys belong to their owner alone: an admin manages users, not their secrets.
    expected = {404} if who == "admin" and "/api-keys/" in path else EXPECTED[who]
    response = getattr(client, method)(url, json=body, headers=headers)
    assert response.status_code in expected, response.get_data(as_text=True)
    if response.status_code >= 400:
        error_of(response, response.status_code)


def test_admin_list_needs_admin_role(client, user, admin, api_headers):
    error = error_of(client.get("/api/v1/users", headers=api_headers(user)), 403)
    assert "ADMIN" in error["message"]
    error_of(client.get("/api/v1/users"), 401)
    assert client.get("/api/v1/users", headers=api_headers(admin)).status_code == 200


def test_admin_list_searches_and_pages(client, admin, api_headers):
    from tests.factories.accounts import UserFactory

    for i in range(5):
        UserFactory(username=f"qubit{i}", full_name=f"Qubit Person {i}")
    UserFactory(username="other", full_name="Somebody Else")
    headers = api_headers(admin)
    found = client.get("/api/v1/users?q=QUBIT&per_page=2&page=1", headers=headers).get_json()
    assert found["total"] == 5 and len(found["items"]) == 2
    last = client.get("/api/v1/users?q=qubit&per_page=2&page=3", headers=headers).get_json()
    assert len(last["items"]) == 1
    by_name = client.get("/api/v1/users?q=somebody", headers=headers).get_json()
    assert [u["username"] for u in by_name["items"]] == ["other"]
    error_of(client.get("/api/v1/users?page=0", headers=headers), 422)


def test_only_admins_change_roles_and_activation(client, user, admin, api_headers):
    url = f"/api/v1/users/{user.id}"
    error_of(client.put(url, json={"roles": ["ADMIN"]}, headers=api_headers(user)), 403)
    response = client.put(
        url, json={"roles": ["PROVIDER"], "is_active": False}, headers=api_headers(admin)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["roles"] == ["CONSUMER", "PROVIDER"] and body["is_provider"] is True
    assert body["is_active"] is False
    error_of(client.put(url, json={"roles": ["WIZARD"]}, headers=api_headers(admin)), 422)


def test_admin_cannot_lock_themself_out(client, admin, api_headers):
    url = f"/api/v1/users/{admin.id}"
    demote = error_of(
        client.put(url, json={"roles": ["CONSUMER"]}, headers=api_headers(admin)), 403
    )
    deactivate = error_of(
        client.put(url, json={"is_active": False}, headers=api_headers(admin)), 403
    )
    assert demote["code"] == deactivate["code"] == "forbidden"


def test_update_user_conflicts_and_email_change_needs_verification(
    client, user, other_user, api_headers
):
    headers = api_headers(user)
    url = f"/api/v1/users/{user.id}"
    error_of(client.put(url, json={"username": other_user.username}, headers=headers), 409)
    error_of(client.put(url, json={"email": other_user.email}, headers=headers), 409)
    response = client.put(url, json={"email": "new-address@example.com"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["email_verified"] is False


def test_profile_and_preferences_validation(client, user, api_headers):
    headers = api_headers(user)
    base = f"/api/v1/users/{user.id}"
    ok = client.put(
        base + "/profile",
        json={"bio": "Hello", "social_links": {"github": "https://github.com/x"},
              "contact_info": {"phone": "+1 555"}},
        headers=headers,
    )  # fmt: skip
    assert ok.status_code == 200 and ok.get_json()["social_links"]["github"].endswith("/x")
    bad = client.put(base + "/profile", json={"avatar_url": "javascript:alert(1)"}, headers=headers)
    assert "avatar_url" in error_of(bad, 422)["details"]
    prefs = client.put(
        base + "/preferences",
        json={"timezone": "Europe/Paris", "email_events": ["job.completed"]},
        headers=headers,
    ).get_json()
    assert prefs["timezone"] == "Europe/Paris" and prefs["email_events"] == ["job.completed"]
    assert prefs["default_device"] == "aer-simulator"
    for payload, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default_device": "no-such-device"}, "default_device"),
        ({"default_shots": 0}, "default_shots"),
        ({"email_events": ["party.started"]}, "email_events"),
    ):
        response = client.put(base + "/preferences", json=payload, headers=headers)
        assert field in error_of(response, 422)["details"]


def test_revoking_a_session_ends_its_tokens(client, user, api_headers):
    pair = issue_tokens(user)
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    sessions = client.get(f"/api/v1/users/{user.id}/sessions", headers=headers).get_json()
    assert str(pair.session.id) in {s["id"] for s in sessions}
    other_headers = api_headers(user)
    response = client.delete(
        f"/api/v1/users/{user.id}/sessions/{pair.session.id}", headers=other_headers
    )
    assert response.status_code == 204
    error_of(client.get("/api/v1/auth/me", headers=headers), 401)
    assert client.get("/api/v1/auth/me", headers=other_headers).status_code == 200


def test_delete_account_removes_user_and_keys(client, user, api_headers):
    from portal.accounts.models import User
    from portal.core.extensions import db

    _key, raw = make_api_key(user)
    user_id = user.id  # the object is gone once the request has deleted its row
    assert client.delete(f"/api/v1/users/{user_id}", headers=api_headers(user)).status_code == 204
    assert db.session.get(User, user_id) is None
    error_of(client.get("/api/v1/auth/me", headers={"X-API-Key": raw}), 401)


def test_openapi_documents_accounts_endpoints_with_examples(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh",
                 "/api/v1/auth/logout", "/api/v1/auth/me", "/api/v1/auth/reset-password",
                 "/api/v1/auth/reset-password/{token}", "/api/v1/auth/verify/{token}",
                 "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/{user_id}/profile",
                 "/api/v1/api-keys", "/api/v1/api-keys/{key_id}"):  # fmt: skip
        assert path in spec["paths"], path
    assert {"bearerAuth": []} in spec["paths"]["/api/v1/auth/me"]["get"]["security"]
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]
    login = spec["components"]["schemas"]["Login"]
    assert login["properties"]["login"]["example"] == "ada"
