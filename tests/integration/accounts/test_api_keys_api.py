"""API keys: created once in full, stored hashed, scoped, rate-limited, expiring, revocable."""

import uuid
from datetime import timedelta

import pytest

from portal.accounts.models import ApiKeyStatus, UserApiKey
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.security import hash_token
from tests.factories.accounts import make_api_key
from tests.integration.accounts.conftest import error_of


def test_create_shows_key_once_and_stores_only_its_hash(client, user, api_headers):
    headers = api_headers(user)
    response = client.post(
        "/api/v1/api-keys",
        json={"name": "CI", "scopes": ["jobs"], "rate_limit": "60/minute",
              "expire_at": (utcnow() + timedelta(days=30)).isoformat()},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201
    body = response.get_json()
    raw = body["key"]
    assert raw.startswith("qh_") and body["prefix"] == raw[:12]
    assert body["scopes"] == ["jobs"] and body["status"] == "ACTIVE"
    row = db.session.get(UserApiKey, uuid.UUID(body["id"]))
    assert row.value == hash_token(raw) and raw not in (row.value, row.prefix)
    listed = client.get("/api/v1/api-keys", headers=headers).get_json()
    assert listed["total"] == 1 and "key" not in listed["items"][0]
    detail = client.get(f"/api/v1/api-keys/{body['id']}", headers=headers).get_json()
    assert "key" not in detail and detail["rate_limit"] == "60/minute"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "rate_limit": "lots"}, "rate_limit"),
        ({"name": "x", "rate_limit": "0/minute"}, "rate_limit"),
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": ""}, "name"),
        ({"name": "x", "expire_at": "2001-01-01T00:00:00+00:00"}, "expire_at"),
        ({"name": "x", "expire_at": "2030-01-01T00:00:00"}, "expire_at"),
    ],
)
def test_invalid_key_fields_are_422(client, user, api_headers, payload, field):
    response = client.post("/api/v1/api-keys", json=payload, headers=api_headers(user))
    assert field in error_of(response, 422)["details"]


def test_x_api_key_works_like_a_bearer_token_and_records_last_use(client, user):
    key, raw = make_api_key(user, scopes=["read"])
    assert key.last_used_at is None
    response = client.get("/api/v1/auth/me", headers={"X-API-Key": raw})
    assert response.status_code == 200 and response.get_json()["id"] == str(user.id)
    db.session.refresh(key)
    assert key.last_used_at is not None


def test_read_scope_cannot_write(client, user):
    _key, raw = make_api_key(user, scopes=["read"])
    response = client.post("/api/v1/api-keys", json={"name": "more"}, headers={"X-API-Key": raw})
    error = error_of(response, 403)
    assert "'full' scope" in error["message"]


def test_revoked_expired_and_unknown_keys_are_401(client, user, api_headers):
    key, raw = make_api_key(user)
    assert client.delete(f"/api/v1/api-keys/{key.id}", headers=api_headers(user)).status_code == 204
    assert key.status is ApiKeyStatus.REVOKED
    assert (
        "revoked"
        in error_of(client.get("/api/v1/auth/me", headers={"X-API-Key": raw}), 401)["message"]
    )
    expiring, raw2 = make_api_key(user, expire_at=utcnow() + timedelta(days=1))
    expiring.expire_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert (
        "expired"
        in error_of(client.get("/api/v1/auth/me", headers={"X-API-Key": raw2}), 401)["message"]
    )
    listed = client.get("/api/v1/api-keys", headers=api_headers(user)).get_json()["items"]
    assert {k["status"] for k in listed} == {"REVOKED", "EXPIRED"}
    error_of(client.get("/api/v1/auth/me", headers={"X-API-Key": "qh_forged"}), 401)


def test_key_rate_limit_is_429_with_retry_after(client, user):
    _key, raw = make_api_key(user, rate_limit="2/minute")
    headers = {"X-API-Key": raw}
    assert [client.get("/api/v1/auth/me", headers=headers).status_code for _ in range(2)] == [
        200,
        200,
    ]
    response = client.get("/api/v1/auth/me", headers=headers)
    error = error_of(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    assert error["details"]["limit"] == "2/minute"


def test_update_key_and_updating_revoked_key_conflicts(client, user, api_headers):
    headers = api_headers(user)
    key, _raw = make_api_key(user)
    response = client.put(
        f"/api/v1/api-keys/{key.id}",
        json={"name": "renamed", "scopes": ["read"], "rate_limit": "10/second"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "renamed" and key.scopes == ["read"]
    client.delete(f"/api/v1/api-keys/{key.id}", headers=headers)
    error_of(client.put(f"/api/v1/api-keys/{key.id}", json={"name": "x"}, headers=headers), 409)


def test_key_list_is_paged(client, user, api_headers):
    for i in range(3):
        make_api_key(user, name=f"k{i}")
    page = client.get("/api/v1/api-keys?per_page=2&page=2", headers=api_headers(user)).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2
    error_of(client.get("/api/v1/api-keys?per_page=1000", headers=api_headers(user)), 422)


def test_recording_a_keys_last_use_does_not_reload_its_owner(client, user, statements):
    _row, key = make_api_key(user, scopes=("read",))
    db.session.commit()
    statements.clear()
    assert client.get("/api/v1/jobs", headers={"X-API-Key": key}).status_code == 200
    assert any(s.startswith("UPDATE user_api_keys SET last_used_at") for s in statements)
    reloads = [s for s in statements if s.startswith("SELECT") and "FROM users " in s]
    assert reloads == []  # the owner came with the key and was not expired by the commit
