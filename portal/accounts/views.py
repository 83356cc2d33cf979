"""Accounts pages: sign-in, registration, verification, password reset, profile, settings,
API keys and "become a provider". Thin: parse the form, call services, commit, render."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from zoneinfo import available_timezones

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.accounts import services
from portal.accounts.auth import WEB_SESSION_KEY, limit_attempts, mail_link_base, page_auth
from portal.accounts.models import Role
from portal.accounts.passwords import verify_password
from portal.accounts.tokens import revoke_session
from portal.core.errors import PortalError, ValidationFailed
from portal.core.extensions import htmx
from portal.core.web import FORM_ERROR_STATUS

bp = Blueprint("accounts", __name__)


@bp.before_app_request
def _load_user_per_request() -> None:
    # Flask-Login caches the user on ``g``, which outlives a request when an app context
    # was already pushed (CLI, tests). Load it per request so a revoked session ends at once,
    # and load it now, before the view writes anything: the loader commits "last seen".
    g.pop("_login_user", None)
    if request.endpoint != "static" and not request.path.startswith("/api/"):
        _ = current_user.is_authenticated


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so ?next= cannot send people to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _form_error(template: str, exc: PortalError, **context):
    """Re-render a form with the service's message and field errors. HTMX gets 422 (swapped
    like a success, see base.html); a full page gets the real status. Either way the
    request's unit of work is rolled back: whatever the service flushed is discarded."""
    status = FORM_ERROR_STATUS if htmx else exc.status
    return render_template(template, error=exc.message, errors=exc.details or {}, **context), status


def _sign_in(user) -> None:
    row = services.start_web_session(user, request.remote_addr, request.user_agent.string)
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    login_user(user)
    session[WEB_SESSION_KEY] = str(row.id)
    session.permanent = True


# --- Sign-in, sign-out, registration ---------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url or url_for("core.home"))
    form = {"login": request.form.get("login", "")}
    if request.method == "POST":
        limit_attempts("sign-in", request.remote_addr, form["login"])
        try:
            user = services.authenticate(form["login"], request.form.get("password", ""))
        except PortalError as exc:
            return _form_error(
                "accounts/login.html",
                exc,
                form=form,
                next_url=next_url,
                unverified=exc.code == "email_unverified",
            )
        _sign_in(user)
        flash(f"Welcome back, {user.full_name or user.username}.", "success")
        return redirect(next_url or url_for("core.home"))
    return render_template("accounts/login.html", form=form, next_url=next_url, errors={})


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sid = session.get(WEB_SESSION_KEY)
        if sid:
            with suppress(PortalError):  # already revoked elsewhere: nothing to end
                revoke_session(services.get_session(current_user, sid))
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("core.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = {k: request.form.get(k, "") for k in ("username", "email", "full_name")}
    publish = request.form.get("publish") == "on"
    if request.method == "POST":
        try:
            user = services.register_user(password=request.form.get("password", ""), **form)
            if request.form.get("publish") == "on":
                # The same terms as "Become a provider": ticking the box accepts them.
                services.become_provider(user, accept_terms=True)
            services.send_verification(user, mail_link_base())
        except PortalError as exc:
            return _form_error("accounts/register.html", exc, form=form, publish=publish)
        return render_template("accounts/registered.html", email=user.email), 201
    return render_template("accounts/register.html", form=form, errors={}, publish=publish)


@bp.get("/verify/<token>")
def verify(token):
    user = services.verify_email(token)
    flash(f"E-mail {user.email} confirmed. You can sign in now.", "success")
    return redirect(url_for("accounts.login"))


@bp.post("/verify/resend")
def resend_verification():
    email = request.form.get("email", "")
    limit_attempts("reset", request.remote_addr, email)
    services.resend_verification(email, mail_link_base())
    flash("If that account still needs confirming, a new link is on its way.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    sent = False
    email = request.form.get("email", "")
    if request.method == "POST":
        limit_attempts("reset", request.remote_addr, email)
        services.request_password_reset(email, mail_link_base())
        sent = True
    return render_template("accounts/forgot_password.html", sent=sent, email=email)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    services.user_for_reset_token(token)  # a used or bad link is refused before the form
    if request.method == "POST":
        limit_attempts("reset", request.remote_addr, None)
        password = request.form.get("password", "")
        try:
            if password != request.form.get("confirm", ""):
                raise ValidationFailed(
                    "The two passwords differ; type the same one twice.",
                    details={"confirm": ["Does not match."]},
                )
            services.reset_password(token, password)
        except PortalError as exc:
            return _form_error("accounts/reset_password.html", exc, token=token)
        flash("Password changed. Sign in with your new password.", "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", token=token, errors={})


# --- Profile ----------------------------------------------------------------------------


def _profile_fields() -> dict:
    contact = {"email": request.form.get("contact_email", ""),
               "phone": request.form.get("contact_phone", "")}  # fmt: skip
    social = {name: request.form.get(f"social_{name}", "") for name in SOCIAL_NETWORKS}
    return {
        "organization": request.form.get("organization", ""),
        "bio": request.form.get("bio", ""),
        "avatar_url": request.form.get("avatar_url", ""),
        "contact_info": {k: v.strip() for k, v in contact.items() if v.strip()},
        "social_links": {k: v.strip() for k, v in social.items() if v.strip()},
    }


SOCIAL_NETWORKS = ("website", "github", "linkedin", "mastodon")


@bp.get("/profile")
@page_auth()
def profile():
    prof = services.profile_of(current_user)
    if htmx:  # "Cancel" in the inline editor
        return render_template("accounts/_profile_view.html", profile=prof)
    return render_template("accounts/profile.html", profile=prof)


@bp.get("/profile/edit")
@page_auth()
def profile_edit():
    prof = services.profile_of(current_user)
    template = "accounts/_profile_form.html" if htmx else "accounts/profile.html"
    return render_template(
        template, profile=prof, editing=True, errors={}, networks=SOCIAL_NETWORKS
    )


@bp.post("/profile")
@page_auth()
def profile_update():
    try:
        services.update_account(current_user, full_name=request.form.get("full_name", ""))
        prof = services.update_profile(current_user, **_profile_fields())
    except PortalError as exc:
        template = "accounts/_profile_form.html" if htmx else "accounts/profile.html"
        return _form_error(
            template,
            exc,
            profile=services.profile_of(current_user),
            editing=True,
            networks=SOCIAL_NETWORKS,
        )
    if htmx:
        return render_template("accounts/_profile_view.html", profile=prof, saved=True)
    flash("Profile saved.", "success")
    return redirect(url_for("accounts.profile"))


# --- Settings: preferences, password, sessions, delete ----------------------------------


def _settings_context() -> dict:
    return {
        "prefs": services.preferences_for(current_user),
        "timezones": sorted(available_timezones()),
        "devices": services.device_names(),
        "events": services.EMAIL_EVENTS,
        "sessions": services.list_sessions(current_user),
        "current_sid": session.get(WEB_SESSION_KEY),
        "errors": {},
    }


@bp.get("/settings")
@page_auth()
def settings():
    return render_template("accounts/settings.html", **_settings_context())


@bp.post("/settings/preferences")
@page_auth()
def update_preferences():
    changes = {
        "timezone": request.form.get("timezone", ""),
        "default_device": request.form.get("default_device", ""),
        "default_shots": request.form.get("default_shots", ""),
        "email_events": request.form.getlist("email_events"),
    }
    context = _settings_context()
    try:
        context["prefs"] = services.update_preferences(current_user, **changes)
    except PortalError as exc:
        return _form_error(
            "accounts/_preferences.html" if htmx else "accounts/settings.html",
            exc,
            **{k: v for k, v in context.items() if k != "errors"},
        )
    if htmx:
        return render_template("accounts/_preferences.html", saved=True, **context)
    flash("Preferences saved.", "success")
    return redirect(url_for("accounts.settings"))


@bp.post("/settings/password")
@page_auth()
def change_password():
    context = _settings_context()
    try:
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm", ""):
            raise ValidationFailed(
                "The two new passwords differ; type the same one twice.",
                details={"confirm": ["Does not match."]},
            )
        keep = services.get_session(current_user, session.get(WEB_SESSION_KEY)).id
        services.change_password(
            current_user, request.form.get("current_password", ""), new, keep_session=keep
        )
    except PortalError as exc:
        return _form_error(
            "accounts/_password.html" if htmx else "accounts/settings.html",
            exc,
            **{k: v for k, v in context.items() if k != "errors"},
        )
    if htmx:
        return render_template("accounts/_password.html", saved=True, **context)
    flash("Password changed; your other sessions were signed out.", "success")
    return redirect(url_for("accounts.settings"))


@bp.post("/settings/sessions/<uuid:session_id>/revoke")
@page_auth()
def revoke_user_session(session_id):
    services.end_session(current_user, session_id)
    if str(session_id) == session.get(WEB_SESSION_KEY):
        logout_user()
        session.clear()
        if htmx:
            return "", 200, {"HX-Redirect": url_for("accounts.login")}
        return redirect(url_for("accounts.login"))
    if htmx:
        return render_template("accounts/_sessions.html", **_settings_context())
    flash("Session revoked.", "success")
    return redirect(url_for("accounts.settings"))


@bp.route("/settings/delete", methods=["GET", "POST"])
@page_auth()
def delete_account():
    if request.method == "POST":
        if request.form.get("confirm") != current_user.username or not verify_password(
            request.form.get("password", ""), current_user.hashed_password
        ):
            exc = ValidationFailed(
                "Type your username and current password to confirm the deletion.",
                details={"confirm": ["Type your username exactly."]},
            )
            return _form_error("accounts/delete_account.html", exc)
        services.delete_account(current_user._get_current_object())
        logout_user()
        session.clear()
        flash("Your account and everything it owned have been deleted.", "info")
        return redirect(url_for("core.home"))
    return render_template("accounts/delete_account.html", errors={})


# --- API keys -----------------------------------------------------------------------------


def _parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise ValidationFailed(
            "Give the expiry as a date (YYYY-MM-DD).", details={"expire_at": ["Not a date."]}
        )


@bp.get("/api-keys")
@page_auth()
def api_keys():
    keys = services.list_api_keys(current_user)
    template = "accounts/_key_list.html" if htmx else "accounts/api_keys.html"
    return render_template(template, keys=keys, form={}, errors={})


@bp.post("/api-keys")
@page_auth()
def create_api_key():
    form = {k: request.form.get(k, "") for k in ("name", "rate_limit", "expire_at")}
    scopes = request.form.getlist("scopes") or [request.form.get("scope", "read")]
    try:
        key, plaintext = services.create_api_key(
            current_user,
            name=form["name"],
            scopes=scopes,
            expire_at=_parse_expiry(form["expire_at"]),
            rate_limit=form["rate_limit"],
        )
    except PortalError as exc:
        return _form_error(
            "accounts/_key_form.html" if htmx else "accounts/api_keys.html",
            exc,
            form=form,
            keys=services.list_api_keys(current_user),
        )
    keys = services.list_api_keys(current_user)
    template = "accounts/_key_created.html" if htmx else "accounts/api_keys.html"
    return render_template(
        template, created=key, plaintext=plaintext, keys=keys, form={}, errors={}, oob=bool(htmx)
    )


@bp.post("/api-keys/<uuid:key_id>/revoke")
@page_auth()
def revoke_api_key(key_id):
    key = services.revoke_api_key(current_user, key_id)
    if htmx:
        return render_template("accounts/_key_list.html", keys=services.list_api_keys(current_user))
    flash(f"Key “{key.name}” revoked.", "success")
    return redirect(url_for("accounts.api_keys"))


# --- Become a provider -------------------------------------------------------------------


@bp.route("/become-provider", methods=["GET", "POST"])
@page_auth()
def become_provider():
    if request.method == "POST":
        try:
            services.become_provider(current_user, request.form.get("accept_terms") == "on")
        except PortalError as exc:
            return _form_error("accounts/become_provider.html", exc)
        flash("You are a provider now: you can publish apps.", "success")
        return redirect(_safe_next(request.form.get("next")) or url_for("accounts.become_provider"))
    return render_template("accounts/become_provider.html", errors={})


@bp.route("/settings/payout", methods=["GET", "POST"])
@page_auth(roles=(Role.PROVIDER,))
def payout():
    """Where a provider is paid (stored encrypted; only the last four IBAN digits are shown)."""
    if request.method == "POST":
        try:
            services.set_payout_details(
                current_user,
                account_holder=request.form.get("account_holder", ""),
                iban=request.form.get("iban", ""),
                payout_email=request.form.get("payout_email", ""),
            )
        except PortalError as exc:
            return _form_error(
                "accounts/payout.html", exc, summary=services.payout_summary(current_user)
            )
        flash("Payout details saved.", "success")
        return redirect(url_for("accounts.payout"))
    return render_template(
        "accounts/payout.html", errors={}, summary=services.payout_summary(current_user)
    )
