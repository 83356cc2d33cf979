"""The accounts pages: sign-in, registration, verification, reset, profile, settings,
sessions, API keys and "become a provider"."""

import re

import pytest

from portal.accounts.models import ApiKeyStatus, Role, User, UserApiKey, UserSession
from portal.core.extensions import db
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory, make_api_key

HX = {"HX-Request": "true"}


def _link(mail, kind):
    return re.search(rf"https?://[^/\s]+(/{kind}/\S+)", mail.text).group(1)


def _web_sessions(user):
    return (
        db.session.execute(
            db.select(UserSession).filter_by(user_id=user.id, kind="web", is_active=True)
        )
        .scalars()
        .all()
    )


# --- sign-in / sign-out ---------------------------------------------------------------


def test_login_page_signs_in_and_records_a_web_session(client, auth, user):
    page = client.get("/login")
    assert page.status_code == 200 and 'name="login"' in page.get_data(as_text=True)
    response = auth.login(user.username, DEFAULT_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    [row] = _web_sessions(user)
    assert row.user_agent is not None
    html = client.get("/").get_data(as_text=True)
    assert f'data-testid="signed-in-as">{user.username}<' in html
    assert client.get("/login").status_code == 302  # already signed in


def test_the_session_cookie_lasts_as_long_as_the_sign_in_and_is_not_resent(client, auth, user):
    from datetime import timedelta
    from email.utils import parsedate_to_datetime

    from portal.config import WEB_SESSION_DAYS
    from portal.core.db import utcnow

    response = auth.login(user.username, DEFAULT_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    [row] = _web_sessions(user)
    assert abs(expires - row.expires_at) < timedelta(minutes=1)  # both end together
    assert abs(expires - utcnow() - timedelta(days=WEB_SESSION_DAYS)) < timedelta(minutes=1)
    client.get("/jobs")  # the first page after sign-in adds a CSRF token to the session
    page = client.get("/jobs")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers  # nothing re-signed


def test_login_follows_only_local_next(client, user):
    response = client.post(
        "/login", data={"login": user.email, "password": DEFAULT_PASSWORD, "next": "/settings"}
    )
    assert response.headers["Location"] == "/settings"
    client.post("/logout")
    response = client.post(
        "/login",
        data={"login": user.email, "password": DEFAULT_PASSWORD, "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_shows_the_form_again(client, auth, user):
    response = auth.login(user.username, "Wrong-Password-1")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "password is wrong" in html and f'value="{user.username}"' in html


def test_unverified_and_deactivated_get_clear_messages(client, auth, outbox):
    unverified = UserFactory(email_verified_at=None)
    html = auth.login(unverified.username, DEFAULT_PASSWORD).get_data(as_text=True)
    assert "Confirm your e-mail address first" in html and "new confirmation link" in html
    client.post("/verify/resend", data={"email": unverified.email})
    assert outbox()[-1].to == unverified.email
    inactive = UserFactory(is_active=False)
    html = auth.login(inactive.username, DEFAULT_PASSWORD).get_data(as_text=True)
    assert "deactivated" in html


def test_a_read_only_page_keeps_the_sessions_last_seen(client, login_as, user, statements):
    """Pages that only read never commit; the sign-in check commits "last seen" itself."""
    from datetime import timedelta

    from portal.core.db import utcnow

    login_as(user)
    [row] = _web_sessions(user)
    row.last_seen_at = long_ago = utcnow() - timedelta(hours=2)
    db.session.commit()
    statements.clear()
    assert client.get("/jobs").status_code == 200
    # The user came with the session row and is not reloaded after the commit.
    assert not [s for s in statements if s.startswith("SELECT") and "FROM users " in s]
    db.session.rollback()  # what only a flush wrote would be gone now
    db.session.refresh(row)
    assert row.last_seen_at > long_ago + timedelta(hours=1)


def test_the_sign_in_check_is_one_statement_and_writes_only_when_last_seen_is_old(
    client, login_as, user, statements
):
    from datetime import timedelta

    from portal.core.db import utcnow

    login_as(user)
    [row] = _web_sessions(user)
    seen = utcnow() - timedelta(seconds=5)
    row.last_seen_at = seen
    db.session.commit()
    session_id = row.id
    db.session.expunge(row)  # as in a real request: the row is not in the identity map
    statements.clear()
    assert client.get("/settings").status_code == 200
    on_sessions = [s for s in statements if "user_sessions" in s]
    # One SELECT checks the session and loads the user; nothing is written within a minute.
    assert on_sessions[0].startswith("SELECT users.") and "JOIN users ON" in on_sessions[0]
    assert not [s for s in statements if s.startswith("UPDATE user_sessions")]
    assert db.session.get(UserSession, session_id).last_seen_at == seen


@pytest.mark.parametrize("ended", ["expired", "revoked", "deactivated", "someone else's"])
def test_a_session_that_is_no_longer_live_signs_the_browser_out(
    client, login_as, user, other_user, ended
):
    from datetime import timedelta

    from portal.core.db import utcnow

    login_as(user)
    assert client.get("/settings").status_code == 200
    [row] = _web_sessions(user)
    if ended == "expired":
        row.expires_at = utcnow() - timedelta(seconds=1)
    elif ended == "revoked":
        row.is_active = False
    elif ended == "deactivated":
        user.is_active = False
    else:
        row.user_id = other_user.id
    db.session.commit()
    response = client.get("/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_ends_the_web_session(client, auth, user):
    auth.login(user.username, DEFAULT_PASSWORD)
    assert auth.logout().status_code == 302
    assert _web_sessions(user) == []
    assert client.get("/settings").status_code == 302


def test_protected_pages_send_visitors_to_sign_in(client):
    for path in ("/profile", "/settings", "/api-keys", "/become-provider", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_page_rate_limit_is_a_friendly_429(client, user):
    for _ in range(10):
        client.post("/login", data={"login": user.username, "password": "Wrong-Password-1"})
    response = client.post("/login", data={"login": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    html = response.get_data(as_text=True)
    assert "<html" in html and "this account" in html


# --- registration, verification, reset ------------------------------------------------


def test_register_verify_and_sign_in(client, auth, outbox):
    response = client.post(
        "/register",
        data={"username": "grace", "email": "grace@example.com", "full_name": "Grace H",
              "password": "Compiler-Pioneer-1952"},
    )  # fmt: skip
    assert response.status_code == 201 and "Check your e-mail" in response.get_data(as_text=True)
    [mail] = outbox()
    assert auth.login("grace", "Compiler-Pioneer-1952").status_code == 401
    verified = client.get(_link(mail, "verify"))
    assert verified.status_code == 302 and verified.headers["Location"] == "/login"
    assert auth.login("grace", "Compiler-Pioneer-1952").status_code == 302


def test_register_errors_are_shown_by_field(client, user):
    response = client.post(
        "/register", data={"username": user.username, "email": "x@example.com",
                           "password": "Compiler-Pioneer-1952"}
    )  # fmt: skip
    assert response.status_code == 409 and "username is taken" in response.get_data(as_text=True)
    response = client.post("/register", data={"username": "ok", "email": "bad", "password": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="password-error"' in html and 'id="email-error"' in html


def test_bad_verification_link_is_a_friendly_404(client):
    response = client.get("/verify/garbage")
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)


def test_forgot_and_reset_password_pages(client, auth, user, outbox):
    assert client.get("/forgot-password").status_code == 200
    html = client.post("/forgot-password", data={"email": user.email}).get_data(as_text=True)
    assert "reset link is on its way" in html
    path = _link(outbox()[-1], "reset-password")
    assert client.get(path).status_code == 200
    mismatch = client.post(path, data={"password": "Brand-New-Secret-77", "confirm": "other"})
    assert mismatch.status_code == 422
    done = client.post(path, data={"password": "Brand-New-Secret-77",
                                   "confirm": "Brand-New-Secret-77"})  # fmt: skip
    assert done.status_code == 302
    assert auth.login(user.username, "Brand-New-Secret-77").status_code == 302
    assert client.get(path).status_code == 404  # single use


# --- profile ---------------------------------------------------------------------------


def test_profile_inline_editing_with_htmx(client, login_as, user):
    login_as(user)
    html = client.get("/profile").get_data(as_text=True)
    assert "Your profile is empty" in html and 'hx-get="/profile/edit"' in html
    form = client.get("/profile/edit", headers=HX).get_data(as_text=True)
    assert "<html" not in form and 'name="organization"' in form
    saved = client.post(
        "/profile",
        data={"full_name": "Ada L", "organization": "Engines Ltd", "bio": "Notes",
              "social_github": "https://github.com/ada", "contact_phone": "+44 1"},
        headers=HX,
    )  # fmt: skip
    text = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "Profile saved" in text and "Engines Ltd" in text
    assert user.profile.social_links == {"github": "https://github.com/ada"}
    assert user.full_name == "Ada L"
    bad = client.post("/profile", data={"avatar_url": "ftp://x"}, headers=HX)
    assert bad.status_code == 422 and "https://" in bad.get_data(as_text=True)
    full = client.post("/profile", data={"organization": "Plain"})
    assert full.status_code == 302


# --- settings ---------------------------------------------------------------------------


def test_settings_preferences_saved_and_used_for_dates(client, login_as, user):
    login_as(user)
    page = client.get("/settings").get_data(as_text=True)
    assert "Europe/Paris" in page and "job.completed" in page and "this browser" in page
    response = client.post(
        "/settings/preferences",
        data={"timezone": "Asia/Tokyo", "default_device": "aer-simulator", "default_shots": "500",
              "email_events": ["job.completed", "payment.failed"]},
        headers=HX,
    )  # fmt: skip
    assert "Preferences saved" in response.get_data(as_text=True)
    assert user.preferences["timezone"] == "Asia/Tokyo" and user.preferences["default_shots"] == 500
    assert "JST" in client.get("/settings").get_data(as_text=True)
    bad = client.post("/settings/preferences", data={"timezone": "Nowhere/Land",
                                                     "default_shots": "5"}, headers=HX)  # fmt: skip
    assert "IANA time zone" in bad.get_data(as_text=True)


def test_change_password_keeps_this_browser_and_ends_others(client, login_as, user, api_headers):
    other = api_headers(user)
    login_as(user)
    response = client.post(
        "/settings/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": "Fresh-Password-88",
              "confirm": "Fresh-Password-88"},
        headers=HX,
    )  # fmt: skip
    assert "Password changed" in response.get_data(as_text=True)
    assert client.get("/settings").status_code == 200
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401
    wrong = client.post(
        "/settings/password",
        data={"current_password": "nope", "new_password": "Another-Pass-99",
              "confirm": "Another-Pass-99"},
        headers=HX,
    )  # fmt: skip
    assert "current password is wrong" in wrong.get_data(as_text=True)


def test_revoking_a_browser_session_signs_that_browser_out(app, client, login_as, user):
    login_as(user)
    second = app.test_client()
    with second.session_transaction():
        pass
    from portal.accounts.services import start_web_session

    row = start_web_session(user, "10.0.0.2", "Other browser")
    with second.session_transaction() as sess:
        sess["_user_id"], sess["qh_sid"] = user.get_id(), str(row.id)
    assert second.get("/settings").status_code == 200
    response = client.post(f"/settings/sessions/{row.id}/revoke", headers=HX)
    assert response.status_code == 200 and "Other browser" not in response.get_data(as_text=True)
    assert second.get("/settings").status_code == 302
    # Revoking your own session signs you out right away.
    own = client.get("/settings").get_data(as_text=True)
    own_id = re.search(r"/settings/sessions/([0-9a-f-]+)/revoke", own).group(1)
    response = client.post(f"/settings/sessions/{own_id}/revoke", headers=HX)
    assert response.headers["HX-Redirect"] == "/login"
    assert client.get("/settings").status_code == 302


def test_someone_elses_session_cannot_be_revoked(client, login_as, user, other_user):
    from portal.accounts.services import start_web_session

    row = start_web_session(other_user, None, None)
    login_as(user)
    assert client.post(f"/settings/sessions/{row.id}/revoke").status_code == 404
    assert row.is_active


def test_delete_account_needs_confirmation(client, login_as, user):
    login_as(user)
    user_id, username = user.id, user.username  # the object is gone once the row is deleted
    assert "cannot be undone" in client.get("/settings/delete").get_data(as_text=True)
    refused = client.post(
        "/settings/delete", data={"confirm": "nope", "password": DEFAULT_PASSWORD}
    )
    assert refused.status_code == 422 and db.session.get(User, user.id) is not None
    done = client.post("/settings/delete", data={"confirm": username, "password": DEFAULT_PASSWORD})
    assert done.status_code == 302
    assert db.session.get(User, user_id) is None


# --- API keys ---------------------------------------------------------------------------


def test_api_keys_page_creates_lists_and_revokes_with_htmx(client, login_as, user):
    login_as(user)
    assert "No API keys yet" in client.get("/api-keys").get_data(as_text=True)
    created = client.post(
        "/api-keys", data={"name": "laptop", "scope": "jobs", "rate_limit": "30/minute"},
        headers=HX,
    ).get_data(as_text=True)  # fmt: skip
    raw = re.search(r'value="(qh_[^"]+)"', created).group(1)
    assert 'data-copy="#new-key"' in created and 'hx-swap-oob="innerHTML"' in created
    key = db.session.execute(db.select(UserApiKey).filter_by(user_id=user.id)).scalar_one()
    assert key.scopes == ["jobs"] and key.rate_limit == "30/minute"
    listing = client.get("/api-keys").get_data(as_text=True)
    assert key.prefix in listing and raw not in listing  # shown once only
    revoked = client.post(f"/api-keys/{key.id}/revoke", headers=HX).get_data(as_text=True)
    assert "Revoked" in revoked and key.status is ApiKeyStatus.REVOKED
    invalid = client.post("/api-keys", data={"name": "", "rate_limit": "fast"}, headers=HX)
    text = invalid.get_data(as_text=True)
    assert invalid.status_code == 422 and "60/minute" in text and 'id="name-error"' in text


def test_api_keys_page_without_htmx_and_with_expiry(client, login_as, user):
    login_as(user)
    response = client.post("/api-keys", data={"name": "ci", "expire_at": "2999-01-01"})
    assert response.status_code == 200 and "will not be shown again" in response.get_data(
        as_text=True
    )
    bad = client.post("/api-keys", data={"name": "ci", "expire_at": "someday"})
    assert bad.status_code == 422


def test_someone_elses_key_cannot_be_revoked_from_the_page(client, login_as, user, other_user):
    key, _raw = make_api_key(other_user)
    login_as(user)
    assert client.post(f"/api-keys/{key.id}/revoke").status_code == 404
    assert key.status is ApiKeyStatus.ACTIVE


# --- become a provider ----------------------------------------------------------------


def test_become_provider_grants_the_role(client, login_as, user):
    login_as(user)
    page = client.get("/become-provider").get_data(as_text=True)
    assert "accept_terms" in page
    refused = client.post("/become-provider", data={})
    assert refused.status_code == 422 and user.is_provider is False
    assert client.post("/become-provider", data={"accept_terms": "on"}).status_code == 302
    assert user.is_provider and user.has_role(Role.PROVIDER)
    assert "You are a provider" in client.get("/become-provider").get_data(as_text=True)


# --- outbox ---------------------------------------------------------------------------


def test_dev_outbox_lists_mail_with_links(client, user, outbox):
    assert "outbox is empty" in client.get("/dev/outbox").get_data(as_text=True)
    client.post("/forgot-password", data={"email": user.email})
    html = client.get("/dev/outbox").get_data(as_text=True)
    assert "Reset your Quantum Hub password" in html and '<a href="http' in html


@pytest.mark.parametrize("setting", [{"DEV_OUTBOX_ENABLED": False}, {"SMTP_HOST": "mail.local"}])
def test_dev_outbox_is_off_in_production_or_with_smtp(app, client, setting):
    saved = {k: app.config.get(k) for k in setting}
    app.config.update(setting)
    try:
        assert client.get("/dev/outbox").status_code == 404
    finally:
        app.config.update(saved)
