"""POST /auth/register, /login, /refresh, /logout, GET /me, resets and verification."""

import re
import uuid
from datetime import timedelta

import bcrypt
import jwt
import pytest

from portal.accounts.models import User, UserSession
from portal.accounts.passwords import verify_password
from portal.core.db import utcnow
from portal.core.extensions import db
from tests.conftest import TEST_SECRET
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory
from tests.integration.accounts.conftest import error_of

NEW_PASSWORD = "Brand-New-Secret-77"


def _login(client, login, password=DEFAULT_PASSWORD):
    return client.post("/api/v1/auth/login", json={"login": login, "password": password})


def _link_path(mail, kind):
    return re.search(rf"https?://[^/\s]+(/{kind}/\S+)", mail.text).group(1)


# --- register and verify -------------------------------------------------------------


def test_register_creates_unverified_consumer_and_mails_link(client, outbox):
    response = client.post(
        "/api/v1/auth/register",
        json={"username": "ada", "email": "Ada@Example.com", "password": "Analytical-1843",
              "full_name": "Ada Lovelace"},
    )  # fmt: skip
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "ada" and body["email"] == "ada@example.com"
    assert body["roles"] == ["CONSUMER"] and body["email_verified"] is False
    assert "password" not in body and "hashed_password" not in body
    user = db.session.execute(db.select(User).filter_by(username="ada")).scalar_one()
    assert user.hashed_password.startswith("$2b$")
    assert "Analytical-1843" not in user.hashed_password
    [mail] = outbox()
    assert mail.to == "ada@example.com" and "/verify/" in mail.text

    # Unverified accounts cannot sign in, and are told why.
    error = error_of(_login(client, "ada", "Analytical-1843"), 401)
    assert error["code"] == "email_unverified" and "Confirm your e-mail" in error["message"]

    verified = client.get("/api/v1/auth" + _link_path(mail, "verify"))
    assert verified.status_code == 200
    assert _login(client, "ada", "Analytical-1843").status_code == 200


def test_register_duplicates_are_409_with_the_field(client, user):
    response = client.post(
        "/api/v1/auth/register",
        json={"username": user.username.upper(), "email": "new@example.com",
              "password": "Analytical-1843"},
    )  # fmt: skip
    error = error_of(response, 409)
    assert "username" in error["details"]
    response = client.post(
        "/api/v1/auth/register",
        json={"username": "fresh", "email": user.email, "password": "Analytical-1843"},
    )
    assert "email" in error_of(response, 409)["details"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "ab", "email": "a@example.com", "password": "Analytical-1843"}, "username"),
        ({"username": "abc", "email": "not-an-email", "password": "Analytical-1843"}, "email"),
        ({"username": "abc", "email": "a@example.com", "password": "short"}, "password"),
        ({"username": "abc", "email": "a@example.com", "password": "alllowercaseletters"},
         "password"),
        ({"username": "bad name!", "email": "a@example.com", "password": "Analytical-1843"},
         "username"),
        ({"email": "a@example.com", "password": "Analytical-1843"}, "username"),
    ],
)  # fmt: skip
def test_register_invalid_input_is_422_with_field_messages(client, payload, field):
    error = error_of(client.post("/api/v1/auth/register", json=payload), 422)
    assert field in error["details"]


def test_password_of_73_bytes_is_refused_and_prefix_cannot_stand_in(client, user):
    long_password = "Aa1-" + "x" * 69  # 73 bytes
    assert len(long_password.encode()) == 73
    error = error_of(
        client.post(
            "/api/v1/auth/register",
            json={"username": "longpw", "email": "l@example.com", "password": long_password},
        ),
        422,
    )
    assert "72 bytes" in " ".join(error["details"]["password"])
    # An account whose password is the 72-byte prefix: the 73-byte version must not work.
    user.hashed_password = bcrypt.hashpw(long_password[:72].encode(), bcrypt.gensalt(4)).decode()
    db.session.flush()
    assert _login(client, user.username, long_password[:72]).status_code == 200
    assert _login(client, user.username, long_password).status_code == 401
    assert not verify_password(long_password, user.hashed_password)


def test_verify_with_bad_or_tampered_token_is_refused(client, user):
    assert error_of(client.get("/api/v1/auth/verify/not-a-token"), 404)["code"] == "not_found"


# --- login, tokens, logout -----------------------------------------------------------


def test_login_by_username_or_email_returns_token_pair(client, user):
    for login in (user.username, user.email.upper()):
        response = _login(client, login)
        assert response.status_code == 200
        body = response.get_json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
        claims = jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])
        assert {"exp", "iat", "sub", "jti", "sid"} <= set(claims)
        assert claims["sub"] == str(user.id)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.get_json()["username"] == user.username
    assert me.get_json()["preferences"]["default_shots"] == 1024
    assert user.last_login is not None


def test_wrong_password_or_unknown_user_is_the_same_401(client, user):
    wrong = error_of(_login(client, user.username, "Wrong-Password-1"), 401)
    unknown = error_of(_login(client, "nobody-here"), 401)
    assert wrong["message"] == unknown["message"]


def test_deactivated_account_cannot_sign_in(client):
    user = UserFactory(is_active=False)
    error = error_of(_login(client, user.username), 401)
    assert error["code"] == "account_inactive" and "deactivated" in error["message"]


def test_deactivating_ends_existing_tokens(client, user, api_headers):
    headers = api_headers(user)
    user.is_active = False
    db.session.flush()
    assert error_of(client.get("/api/v1/auth/me", headers=headers), 401)["code"] == "unauthorized"


def test_refresh_gives_new_access_token_and_logout_ends_both(client, user):
    tokens = _login(client, user.username).get_json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    access = refreshed.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    session = db.session.get(UserSession, uuid.UUID(tokens["session_id"]))
    assert session.is_active is False
    error = error_of(client.get("/api/v1/auth/me", headers=headers), 401)
    assert "session has ended" in error["message"]
    old = {"Authorization": f"Bearer {tokens['access_token']}"}
    error_of(client.get("/api/v1/auth/me", headers=old), 401)
    error_of(
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401
    )


def test_access_token_cannot_be_used_as_refresh_token(client, user):
    tokens = _login(client, user.username).get_json()
    error = error_of(
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}), 401
    )
    assert "refresh token is required" in error["message"]


def _forge(claims, key=TEST_SECRET, algorithm="HS256", headers=None):
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _claims(user, session, **overrides):
    now = utcnow()
    claims = {"sub": str(user.id), "sid": str(session.id), "jti": "x", "typ": "access",
              "iat": now, "exp": now + timedelta(minutes=5)}  # fmt: skip
    claims.update(overrides)
    return claims


@pytest.mark.filterwarnings("ignore:The HMAC key is .* bytes long")
@pytest.mark.parametrize("attack", ["none", "wrong-key", "expired", "missing-jti", "garbage",
                                    "revoked", "other-user", "hs512"])  # fmt: skip
def test_token_attacks_are_401_envelopes(client, user, attack):
    from portal.accounts.tokens import issue_tokens

    pair = issue_tokens(user)
    session = pair.session
    if attack == "none":
        token = _forge(_claims(user, session), key=None, algorithm="none")
    elif attack == "wrong-key":
        token = _forge(_claims(user, session), key="another-secret-key-that-is-long-enough-xx")
    elif attack == "expired":
        token = _forge(_claims(user, session, exp=utcnow() - timedelta(seconds=5)))
    elif attack == "missing-jti":
        claims = _claims(user, session)
        del claims["jti"]
        token = _forge(claims)
    elif attack == "garbage":
        token = "not.a.jwt"
    elif attack == "revoked":
        session.is_active = False
        db.session.flush()
        token = pair.access_token
    elif attack == "other-user":
        token = _forge(_claims(UserFactory(), session))
    else:
        token = _forge(_claims(user, session), algorithm="HS512")
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    error = error_of(response, 401)
    assert error["code"] == "unauthorized"
    if attack == "expired":
        assert "expired" in error["message"]


def test_me_without_credentials_is_401(client):
    error = error_of(client.get("/api/v1/auth/me"), 401)
    assert "X-API-Key" in error["message"]


def test_logout_with_api_key_is_refused(client, user):
    from tests.factories.accounts import make_api_key

    _key, raw = make_api_key(user)
    refused = error_of(client.post("/api/v1/auth/logout", headers={"X-API-Key": raw}), 422)
    assert refused["message"]


# --- password reset ------------------------------------------------------------------


def test_reset_password_flow_is_single_use(client, user, outbox, api_headers):
    headers = api_headers(user)
    response = client.post("/api/v1/auth/reset-password", json={"email": user.email})
    assert response.status_code == 202
    [mail] = outbox()
    token = _link_path(mail, "reset-password").split("/reset-password/")[1]
    done = client.post(f"/api/v1/auth/reset-password/{token}", json={"password": NEW_PASSWORD})
    assert done.status_code == 200
    assert _login(client, user.username, NEW_PASSWORD).status_code == 200
    assert _login(client, user.username).status_code == 401
    # The link is spent, and the sessions from before the reset were ended.
    again = client.post(f"/api/v1/auth/reset-password/{token}", json={"password": "Other-Pass-99"})
    assert "already been used" in error_of(again, 404)["message"]
    error_of(client.get("/api/v1/auth/me", headers=headers), 401)


def test_reset_for_unknown_address_answers_the_same_and_sends_nothing(client, outbox):
    response = client.post("/api/v1/auth/reset-password", json={"email": "ghost@example.com"})
    assert response.status_code == 202
    assert outbox() == []


def test_reset_with_weak_password_is_422_and_bad_token_404(client, user):
    from portal.accounts.services import reset_token

    token = reset_token(user)
    error = error_of(
        client.post(f"/api/v1/auth/reset-password/{token}", json={"password": "weak"}), 422
    )
    assert "password" in error["details"]
    error_of(client.post("/api/v1/auth/reset-password/bogus", json={"password": NEW_PASSWORD}), 404)


def test_expired_reset_link_is_refused(client, user, monkeypatch):
    from portal.accounts import services

    token = services.reset_token(user)
    monkeypatch.setattr(services, "RESET_MAX_AGE", -1)
    error = error_of(
        client.post(f"/api/v1/auth/reset-password/{token}", json={"password": NEW_PASSWORD}), 422
    )
    assert "expired" in error["message"]


# --- rate limits ---------------------------------------------------------------------


def test_sign_in_is_limited_per_account_with_retry_after(client, user):
    statuses = [_login(client, user.username, "Wrong-Password-1").status_code for _ in range(10)]
    assert set(statuses) == {401}
    response = _login(client, user.username)  # even the right password waits now
    error = error_of(response, 429)
    assert int(response.headers["Retry-After"]) > 0 and "this account" in error["message"]
    # Another account from the same address is not blocked by this one.
    assert _login(client, UserFactory().username).status_code == 200


def test_sign_in_is_limited_per_address(app, client):
    app.config["RATELIMIT_SIGN_IN"] = ("3/minute", "100/minute")
    try:
        statuses = [_login(client, f"someone{i}").status_code for i in range(4)]
    finally:
        del app.config["RATELIMIT_SIGN_IN"]
    assert statuses == [401, 401, 401, 429]


def test_reset_requests_are_limited_per_account(client, user, outbox):
    for _ in range(5):
        client.post("/api/v1/auth/reset-password", json={"email": user.email})
    response = client.post("/api/v1/auth/reset-password", json={"email": user.email})
    error_of(response, 429)
    assert "Retry-After" in response.headers
    assert len(outbox()) == 5


def test_token_lifetime_is_short(client, user):
    tokens = _login(client, user.username).get_json()
    claims = jwt.decode(tokens["access_token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 15 * 60
