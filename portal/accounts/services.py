"""Accounts: the rules behind registration, sign-in, sessions, profiles, preferences, roles
and API keys. Plain values in, models out; ``db.session`` is flushed, never committed (the
view or API route that called commits)."""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from limits import parse as parse_limit

from portal.accounts import policy
from portal.accounts.models import ApiKeyStatus, Role, User, UserApiKey, UserProfile, UserSession
from portal.accounts.passwords import hash_password, password_problems, verify_password
from portal.accounts.tokens import revoke_session
from portal.config import WEB_SESSION_DAYS
from portal.core.db import utcnow
from portal.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from portal.core.extensions import db
from portal.core.inputs import URL_CHARS, whole_number
from portal.core.mail import send_mail
from portal.core.paging import Page, paginate
from portal.core.security import hash_token, new_token

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,49}$")
VERIFY_MAX_AGE = 3 * 24 * 3600  # a verification link works for three days
RESET_MAX_AGE = 3600  # a reset link works for one hour, once
# A browser's "last seen" is written at most this often, so pages do not write on every hit.
TOUCH_EVERY = timedelta(minutes=1)

EMAIL_EVENTS = (
    "job.completed",
    "job.failed",
    "subscription.activated",
    "subscription.expiring",
    "payment.failed",
    "review.received",
    "budget.warning",
)
DEFAULT_PREFERENCES: dict[str, Any] = {
    "timezone": "UTC",
    "default_device": "aer-simulator",
    "default_shots": 1024,
    "email_events": [
        "job.failed",
        "subscription.activated",
        "subscription.expiring",
        "payment.failed",
        "budget.warning",
    ],
}
MAX_SHOTS = 100_000
API_KEY_SCOPES = ("read", "jobs", "full")
RATE_LIMIT_RE = re.compile(r"^\d{1,6}\s*/\s*(second|minute|hour|day)$")
PROFILE_MAP_ENTRIES = 20  # contact_info and social_links
PROFILE_FIELDS = ("organization", "bio", "avatar_url", "contact_info", "social_links")


# --- Registration and e-mail verification --------------------------------------------


def normalise_email(email: str) -> str:
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"Enter a valid e-mail address: {exc}", details={"email": [str(exc)]}
        )
    if len(result.normalized) > 100:
        raise ValidationFailed(
            "Use an e-mail address of at most 100 characters.",
            details={"email": ["At most 100 characters."]},
        )
    return result.normalized.lower()


def _check_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        message = (
            "Usernames are 3–50 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
        raise ValidationFailed(message, details={"username": [message]})
    return username


def _ensure_unique(username: str | None, email: str | None, exclude: uuid.UUID | None = None):
    conflicts: dict[str, list[str]] = {}
    if username is not None:
        query = db.select(User.id).where(sa.func.lower(User.username) == username.lower())
        if exclude:
            query = query.where(User.id != exclude)
        if db.session.execute(query).first():
            conflicts["username"] = ["This username is taken; choose another."]
    if email is not None:
        query = db.select(User.id).where(sa.func.lower(User.email) == email.lower())
        if exclude:
            query = query.where(User.id != exclude)
        if db.session.execute(query).first():
            conflicts["email"] = ["An account with this e-mail exists; sign in or reset it."]
    if conflicts:
        raise Conflict(" ".join(m[0] for m in conflicts.values()), details=conflicts)


def register_user(username: str, email: str, password: str, full_name: str | None = None) -> User:
    """Create an unverified CONSUMER account; the caller sends the verification mail."""
    problems: dict[str, list[str]] = {}
    for check in (lambda: _check_username(username), lambda: normalise_email(email)):
        try:
            check()
        except ValidationFailed as exc:
            problems.update(exc.details)
    if pw_problems := password_problems(password or ""):
        problems["password"] = pw_problems
    if full_name and len(full_name) > 100:
        problems["full_name"] = ["At most 100 characters."]
    if problems:
        raise ValidationFailed(
            "Some fields need fixing: " + ", ".join(problems) + ".", details=problems
        )
    username, email = _check_username(username), normalise_email(email)
    _ensure_unique(username, email)
    user = User(
        username=username,
        email=email,
        full_name=(full_name or "").strip() or None,
        hashed_password=hash_password(password),
        roles=[Role.CONSUMER.value],
        is_active=True,
        is_provider=False,
        preferences={},
    )
    db.session.add(user)
    db.session.flush()
    return user


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def verification_token(user: User) -> str:
    return _serializer("verify-email").dumps({"uid": str(user.id), "email": user.email})


def send_verification(user: User, base_url: str) -> None:
    link = f"{base_url.rstrip('/')}/verify/{verification_token(user)}"
    send_mail(
        user.email,
        "Confirm your Quantum Hub e-mail address",
        f"Hello {user.full_name or user.username},\n\n"
        f"Open this link to activate your Quantum Hub account:\n{link}\n\n"
        "The link works for three days. If you did not register, ignore this message.\n",
    )


def verify_email(token: str) -> User:
    """Mark the account's address verified; the link names the address it was sent to."""
    try:
        data = _serializer("verify-email").loads(token, max_age=VERIFY_MAX_AGE)
    except SignatureExpired:
        raise ValidationFailed("This verification link has expired; request a new one.")
    except BadSignature:
        raise NotFound("This verification link is not valid; check that it was copied whole.")
    user = user_by_id(data.get("uid"))
    if user is None or user.email != data.get("email"):
        raise NotFound("This verification link is no longer valid; request a new one.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    db.session.flush()
    return user


def resend_verification(email: str, base_url: str) -> None:
    user = find_by_login(email)
    if user is not None and user.email_verified_at is None:
        send_verification(user, base_url)


# --- Sign-in and sessions ------------------------------------------------------------


def user_by_id(value: Any) -> User | None:
    """The user with this id (text or UUID), or None."""
    try:
        return db.session.get(User, uuid.UUID(str(value)))
    except ValueError:
        return None


def find_by_login(login: str) -> User | None:
    """The account whose username or e-mail is ``login`` (case-insensitive)."""
    login = (login or "").strip().lower()
    if not login:
        return None
    column = User.email if "@" in login else User.username
    return db.session.execute(
        db.select(User).where(sa.func.lower(column) == login)
    ).scalar_one_or_none()


def authenticate(login: str, password: str) -> User:
    """The user for these credentials, or 401. Account state is reported only after the
    password matched, so it reveals nothing to someone guessing."""
    user = find_by_login(login)
    if user is None or not verify_password(password or "", user.hashed_password):
        raise Unauthorized("The username/e-mail or password is wrong.")
    if not user.is_active:
        raise Unauthorized(
            "This account has been deactivated; contact an administrator.",
            code="account_inactive",
        )
    if user.email_verified_at is None:
        raise Unauthorized(
            "Confirm your e-mail address first: open the link we sent you "
            "(or ask for a new one on the sign-in page).",
            code="email_unverified",
        )
    user.last_login = utcnow()
    db.session.flush()
    return user


def start_web_session(user: User, ip_address: str | None, user_agent: str | None) -> UserSession:
    """A browser sign-in, kept as a user_sessions row so it can be listed and revoked."""
    now = utcnow()
    row = UserSession(
        user_id=user.id,
        token=hash_token(new_token("web")[0]),
        issued_at=now,
        expires_at=now + timedelta(days=WEB_SESSION_DAYS),
        ip_address=(ip_address or "")[:50] or None,
        user_agent=(user_agent or "")[:255] or None,
        kind="web",
        last_seen_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


# The signed-in user of a live browser session, and when that session was last seen: one
# statement building one ORM object (the user; the session row's checks are in the WHERE
# clause). Built once: SQLAlchemy then reuses its cache key instead of recomputing it.
@functools.cache
def _live_session():
    return (
        sa.select(User, UserSession.last_seen_at)
        .select_from(UserSession)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.id == sa.bindparam("id"),
            UserSession.user_id == sa.bindparam("user_id"),
            UserSession.is_active,
            UserSession.expires_at > sa.bindparam("now"),
        )
    )


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A browser session that is still live: its id, its user, when it was last seen."""

    id: uuid.UUID
    user: User
    last_seen_at: datetime | None


def live_web_session(session_id: str | None, user_id: uuid.UUID) -> LiveSession | None:
    """The active browser session ``session_id`` of ``user_id``, if it is still live."""
    if not session_id:
        return None
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return None
    row = db.session.execute(
        _live_session(), {"id": key, "user_id": user_id, "now": utcnow()}
    ).first()
    return None if row is None else LiveSession(key, row[0], row[1])


@functools.cache
def _touch_session():
    table = UserSession.__table__
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("session_id"))
        .values(last_seen_at=sa.bindparam("seen"))
    )


def touch_web_session(live: LiveSession) -> bool:
    """Move the session's last-seen on, at most once a minute, in the request's transaction
    (a failed request's rollback discards it); True if it wrote."""
    now = utcnow()
    if live.last_seen_at is not None and now - live.last_seen_at <= TOUCH_EVERY:
        return False
    db.session.execute(_touch_session(), {"session_id": live.id, "seen": now})
    return True


def list_sessions(user: User) -> list[UserSession]:
    now = utcnow()
    return list(
        db.session.execute(
            db.select(UserSession)
            .filter_by(user_id=user.id, is_active=True)
            .where(UserSession.expires_at > now)
            .order_by(UserSession.last_seen_at.desc().nulls_last())
        ).scalars()
    )


def get_session(user: User, session_id: Any) -> UserSession:
    try:
        row = db.session.get(UserSession, uuid.UUID(str(session_id)))
    except ValueError:
        row = None
    if row is None or not policy.may_use_session(user, row):
        raise NotFound("No such session.")
    return row


def end_session(user: User, session_id: Any) -> UserSession:
    """Revoke one of ``user``'s sessions (browser or API): it stops working at once."""
    row = get_session(user, session_id)
    revoke_session(row)
    db.session.flush()
    return row


def end_all_sessions(user: User, keep: uuid.UUID | None = None) -> int:
    rows = [s for s in list_sessions(user) if s.id != keep]
    for row in rows:
        revoke_session(row)
    db.session.flush()
    return len(rows)


# --- Passwords -------------------------------------------------------------------------


def _password_fingerprint(user: User) -> str:
    # Part of the reset link: it changes with the password, so a used link stops working.
    return hash_token(user.hashed_password)[:16]


def reset_token(user: User) -> str:
    return _serializer("reset-password").dumps(
        {"uid": str(user.id), "pw": _password_fingerprint(user)}
    )


def request_password_reset(email: str, base_url: str) -> None:
    """Mail a single-use reset link if the address has an account. Says nothing either way,
    so the form cannot be used to find out who has an account."""
    user = find_by_login(email) if "@" in (email or "") else None
    if user is None or not user.is_active:
        return
    link = f"{base_url.rstrip('/')}/reset-password/{reset_token(user)}"
    send_mail(
        user.email,
        "Reset your Quantum Hub password",
        f"Hello {user.full_name or user.username},\n\n"
        f"Open this link to choose a new password:\n{link}\n\n"
        "It works once, for one hour. If you did not ask for it, ignore this message.\n",
    )


def user_for_reset_token(token: str) -> User:
    try:
        data = _serializer("reset-password").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise ValidationFailed("This reset link has expired; ask for a new one.")
    except BadSignature:
        raise NotFound("This reset link is not valid; check that it was copied whole.")
    user = user_by_id(data.get("uid"))
    if user is None or data.get("pw") != _password_fingerprint(user):
        raise NotFound("This reset link has already been used; ask for a new one.")
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link and every session end with it."""
    user = user_for_reset_token(token)
    user.hashed_password = hash_password(new_password or "")
    # Whoever asked for the reset owns the mailbox, so the address is verified.
    user.email_verified_at = user.email_verified_at or utcnow()
    end_all_sessions(user)
    return user


def change_password(
    user: User, current: str, new: str, keep_session: uuid.UUID | None = None
) -> None:
    """Change the password; other sessions are signed out."""
    if not verify_password(current or "", user.hashed_password):
        raise ValidationFailed(
            "The current password is wrong.",
            details={"current_password": ["The current password is wrong."]},
        )
    user.hashed_password = hash_password(new or "")
    end_all_sessions(user, keep=keep_session)


# --- Users, profiles, preferences ------------------------------------------------------


def get_user(actor: User, user_id: Any) -> User:
    """``user_id`` if ``actor`` may see it (themself, or an admin); otherwise 404."""
    user = user_by_id(user_id)
    if user is None or not policy.may_see_user(actor, user):
        raise NotFound("No such user.")
    return user


def update_account(
    user: User,
    *,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
) -> User:
    """Change name fields; a new e-mail address must be verified again."""
    new_username = _check_username(username) if username is not None else None
    new_email = normalise_email(email) if email is not None else None
    _ensure_unique(
        new_username if new_username and new_username != user.username else None,
        new_email if new_email and new_email != user.email else None,
        exclude=user.id,
    )
    if new_username:
        user.username = new_username
    if new_email and new_email != user.email:
        user.email = new_email
        user.email_verified_at = None
    if full_name is not None:
        if len(full_name) > 100:
            raise ValidationFailed(
                "Use a full name of at most 100 characters.",
                details={"full_name": ["At most 100 characters."]},
            )
        user.full_name = full_name.strip() or None
    db.session.flush()
    return user


def delete_account(user: User) -> None:
    """Delete the account and everything it owns (the foreign keys cascade)."""
    db.session.delete(user)
    db.session.flush()


def profile_of(user: User) -> UserProfile:
    """The user's profile, created empty on first use."""
    if user.profile is None:
        user.profile = UserProfile(user_id=user.id)
        db.session.flush()
    return user.profile


def _check_url(field: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not re.match(r"^https?://[^\s]+$", value) or len(value) > 255:
        message = "Use a full http:// or https:// address of at most 255 characters."
        raise ValidationFailed(f"{field}: {message}", details={field: [message]})
    return value


def update_profile(user: User, **fields: Any) -> UserProfile:
    """Set the given profile fields; links must be http(s) URLs, contact/social are maps."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown profile fields: {', '.join(sorted(unknown))}.")
    profile = profile_of(user)
    if "organization" in fields:
        org = (fields["organization"] or "").strip()
        if len(org) > 100:
            raise ValidationFailed(
                "Use an organisation name of at most 100 characters.",
                details={"organization": ["At most 100 characters."]},
            )
        profile.organization = org or None
    if "bio" in fields:
        bio = (fields["bio"] or "").strip()
        if len(bio) > 5000:
            raise ValidationFailed(
                "Keep the bio under 5000 characters.", details={"bio": ["At most 5000."]}
            )
        profile.bio = bio or None
    if "avatar_url" in fields:
        profile.avatar_url = _check_url("avatar_url", fields["avatar_url"])
    for name in ("contact_info", "social_links"):
        if name in fields:
            value = fields[name] or {}
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ValidationFailed(
                    f'{name} must map names to text, e.g. {{"github": "https://…"}}.',
                    details={name: ["A map of names to text."]},
                )
            if len(value) > PROFILE_MAP_ENTRIES or any(
                len(k) > 50 or len(v) > URL_CHARS for k, v in value.items()
            ):
                raise ValidationFailed(
                    f"{name} takes at most {PROFILE_MAP_ENTRIES} entries, names of at most 50 "
                    f"characters and values of at most {URL_CHARS}.",
                    details={name: [f"At most {PROFILE_MAP_ENTRIES} entries."]},
                )
            if name == "social_links":
                value = {k: _check_url(f"social_links.{k}", v) for k, v in value.items() if v}
            profile_value = {k: v for k, v in value.items() if v}
            setattr(profile, name, profile_value or None)
    db.session.flush()
    return profile


# Where the devices a default may name come from: the execution domain registers its
# catalogue at app creation (``register_devices``), so accounts need not know it.
DEVICE_SOURCES: list[Callable[[], Iterable[str]]] = []


def register_devices(source: Callable[[], Iterable[str]]) -> None:
    """Add ``source`` (returns device names) to what a default device may name (idempotent)."""
    if source not in DEVICE_SOURCES:
        DEVICE_SOURCES.append(source)


def device_names() -> list[str]:
    """Devices a default may name (every registered source's)."""
    return sorted({name for source in DEVICE_SOURCES for name in source()})


def preferences_for(user: User | None) -> dict[str, Any]:
    """The user's preferences with defaults filled in (what other domains read)."""
    prefs = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULT_PREFERENCES.items()}
    if user is not None and getattr(user, "preferences", None):
        prefs.update({k: v for k, v in user.preferences.items() if k in DEFAULT_PREFERENCES})
    return prefs


def update_preferences(user: User, **changes: Any) -> dict[str, Any]:
    """Validate and store preferences; unknown keys are refused with the allowed names."""
    unknown = set(changes) - set(DEFAULT_PREFERENCES)
    if unknown:
        raise ValidationFailed(
            f"Unknown preferences: {', '.join(sorted(unknown))}. "
            f"Allowed: {', '.join(DEFAULT_PREFERENCES)}."
        )
    problems: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if "timezone" in changes:
        tz = str(changes["timezone"] or "").strip()
        try:
            if tz not in available_timezones():
                raise ValueError(tz)
            ZoneInfo(tz)
            clean["timezone"] = tz
        except ValueError:
            problems["timezone"] = ["Use an IANA time zone name such as Europe/Paris or UTC."]
    if "default_device" in changes:
        device = str(changes["default_device"] or "").strip()
        if device not in device_names():
            problems["default_device"] = [f"Choose one of: {', '.join(device_names())}."]
        else:
            clean["default_device"] = device
    if "default_shots" in changes:
        try:
            clean["default_shots"] = whole_number(
                "default_shots", changes["default_shots"], low=1, high=MAX_SHOTS
            )
        except ValidationFailed:  # 1.5 is refused, never stored as 1
            problems["default_shots"] = [f"Use a whole number from 1 to {MAX_SHOTS}."]
    if "email_events" in changes:
        events = changes["email_events"] or []
        if isinstance(events, str):
            events = [events]
        bad = [e for e in events if e not in EMAIL_EVENTS]
        if bad:
            problems["email_events"] = [
                f"Unknown events {', '.join(map(str, bad))}; choose from {', '.join(EMAIL_EVENTS)}."
            ]
        else:
            clean["email_events"] = [e for e in EMAIL_EVENTS if e in events]
    if problems:
        raise ValidationFailed(
            "Some preferences need fixing: " + ", ".join(problems) + ".", details=problems
        )
    # Reassign so the JSON column is seen as changed.
    user.preferences = {**(user.preferences or {}), **clean}
    db.session.flush()
    return preferences_for(user)


def wants_email(user: User, event: str) -> bool:
    """Whether ``user`` asked to be e-mailed about ``event`` (e.g. "job.completed")."""
    return event in preferences_for(user)["email_events"]


# --- Roles and administration ---------------------------------------------------------


def become_provider(user: User, accept_terms: bool) -> User:
    """Grant the PROVIDER role so the user can publish apps."""
    if not accept_terms:
        raise ValidationFailed(
            "Accept the provider terms to continue.",
            details={"accept_terms": ["Tick the box to accept the provider terms."]},
        )
    if not user.has_role(Role.PROVIDER):
        user.roles = [*(user.roles or []), Role.PROVIDER.value]
    user.is_provider = True
    db.session.flush()
    return user


def search_users(query: str | None, page: int, per_page: int) -> Page:
    """Users whose username, e-mail or full name contains ``query``, newest first."""
    stmt = db.select(User)
    if query and query.strip():
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(User.username).like(pattern),
                sa.func.lower(User.email).like(pattern),
                sa.func.lower(sa.func.coalesce(User.full_name, "")).like(pattern),
            )
        )
    return paginate(stmt.order_by(User.created_at.desc(), User.username), page, per_page)


def set_roles(actor: User, user: User, roles: list[str]) -> User:
    valid = {r.value for r in Role}
    wanted = {str(r).upper() for r in roles}
    if not wanted <= valid:
        raise ValidationFailed(
            f"Unknown roles: {', '.join(sorted(wanted - valid))}. Use {', '.join(sorted(valid))}.",
            details={"roles": [f"Choose from {', '.join(sorted(valid))}."]},
        )
    wanted.add(Role.CONSUMER.value)  # everyone can consume
    if user.id == actor.id and Role.ADMIN.value not in wanted:
        raise Forbidden("You cannot remove your own ADMIN role; ask another administrator.")
    user.roles = [r.value for r in Role if r.value in wanted]
    user.is_provider = Role.PROVIDER.value in wanted
    db.session.flush()
    return user


def set_active(actor: User, user: User, active: bool) -> User:
    """Activate or deactivate an account; deactivating ends its sessions and keys stop."""
    if user.id == actor.id and not active:
        raise Forbidden("You cannot deactivate your own account.")
    user.is_active = active
    if not active:
        end_all_sessions(user)
    db.session.flush()
    return user


# --- API keys ---------------------------------------------------------------------------


def check_rate_limit_text(rate: str | None) -> str | None:
    rate = (rate or "").strip().lower()
    if not rate:
        return None
    if not RATE_LIMIT_RE.match(rate):
        message = "Write the rate limit as '<count>/<second|minute|hour|day>', e.g. '60/minute'."
        raise ValidationFailed(message, details={"rate_limit": [message]})
    item = parse_limit(rate)
    if item.amount < 1:
        raise ValidationFailed(
            "A rate limit must allow at least one request.",
            details={"rate_limit": ["At least 1."]},
        )
    return re.sub(r"\s+", "", rate)


def _check_scopes(scopes: list[str] | None) -> list[str]:
    scopes = [s.strip().lower() for s in (scopes or ["read"]) if s and s.strip()]
    bad = [s for s in scopes if s not in API_KEY_SCOPES]
    if bad or not scopes:
        message = f"Choose scopes from {', '.join(API_KEY_SCOPES)}."
        raise ValidationFailed(message, details={"scopes": [message]})
    return [s for s in API_KEY_SCOPES if s in scopes]


def _check_expiry(expire_at: datetime | None) -> datetime | None:
    if expire_at is None:
        return None
    if expire_at.tzinfo is None:
        expire_at = expire_at.replace(tzinfo=ZoneInfo("UTC"))
    if expire_at <= utcnow():
        message = "Choose an expiry date in the future, or none."
        raise ValidationFailed(message, details={"expire_at": [message]})
    return expire_at


def _check_key_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        message = "Give the key a name of 1–100 characters, e.g. 'CI pipeline'."
        raise ValidationFailed(message, details={"name": [message]})
    return name


def create_api_key(
    user: User,
    name: str,
    scopes: list[str] | None = None,
    expire_at: datetime | None = None,
    rate_limit: str | None = None,
) -> tuple[UserApiKey, str]:
    """A new key for ``user``: returns the row and the key in full, which is never stored."""
    problems: dict[str, list[str]] = {}
    checked: dict[str, Any] = {}
    for field, check, value in (
        ("name", _check_key_name, name),
        ("scopes", _check_scopes, scopes),
        ("expire_at", _check_expiry, expire_at),
        ("rate_limit", check_rate_limit_text, rate_limit),
    ):
        try:
            checked[field] = check(value)
        except ValidationFailed as exc:
            problems.update(exc.details or {field: [exc.message]})
    if problems:
        raise ValidationFailed(
            "Some fields need fixing: " + ", ".join(problems) + ".", details=problems
        )
    plaintext, prefix, hashed = new_token("qh")
    key = UserApiKey(
        user_id=user.id,
        name=checked["name"],
        value=hashed,
        prefix=prefix,
        scopes=checked["scopes"],
        status=ApiKeyStatus.ACTIVE,
        rate_limit=checked["rate_limit"],
        expire_at=checked["expire_at"],
    )
    db.session.add(key)
    db.session.flush()
    return key, plaintext


def list_api_keys(user: User) -> list[UserApiKey]:
    keys = list(
        db.session.execute(
            db.select(UserApiKey).filter_by(user_id=user.id).order_by(UserApiKey.created_at.desc())
        ).scalars()
    )
    now = utcnow()
    for key in keys:  # show expiry as a status without a background job
        if key.status is ApiKeyStatus.ACTIVE and key.expire_at and key.expire_at <= now:
            key.status = ApiKeyStatus.EXPIRED
    db.session.flush()
    return keys


def get_api_key(user: User, key_id: Any) -> UserApiKey:
    """One of ``user``'s keys; someone else's key is 404, as if it did not exist."""
    try:
        key = db.session.get(UserApiKey, uuid.UUID(str(key_id)))
    except ValueError:
        key = None
    if key is None or not policy.may_use_api_key(user, key):
        raise NotFound("No such API key.")
    return key


def update_api_key(user: User, key_id: Any, **changes: Any) -> UserApiKey:
    key = get_api_key(user, key_id)
    if key.status is not ApiKeyStatus.ACTIVE:
        raise Conflict("This key is no longer active; create a new one instead.")
    if "name" in changes:
        key.name = _check_key_name(changes["name"])
    if "scopes" in changes:
        key.scopes = _check_scopes(changes["scopes"])
    if "rate_limit" in changes:
        key.rate_limit = check_rate_limit_text(changes["rate_limit"])
    if "expire_at" in changes:
        key.expire_at = _check_expiry(changes["expire_at"])
    db.session.flush()
    return key


def revoke_api_key(user: User, key_id: Any) -> UserApiKey:
    key = get_api_key(user, key_id)
    key.status = ApiKeyStatus.REVOKED
    db.session.flush()
    return key


# --- Payout details (providers) ----------------------------------------------------------

_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def iban_is_valid(iban: str) -> bool:
    """Shape and ISO 13616 mod-97 checksum of an IBAN (spaces ignored)."""
    compact = iban.replace(" ", "").upper()
    if not _IBAN_RE.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def set_payout_details(user: User, *, account_holder: str, iban: str, payout_email: str) -> dict:
    """Store where a provider is paid. Kept encrypted at rest (users.payout_details)."""
    if not user.has_role(Role.PROVIDER):
        raise Forbidden("Only providers have payout details; become a provider first.")
    errors: dict[str, list[str]] = {}
    holder = (account_holder or "").strip()
    if not 2 <= len(holder) <= 100:
        errors["account_holder"] = ["Give the account holder's name (2-100 characters)."]
    compact = (iban or "").replace(" ", "").upper()
    if not iban_is_valid(compact):
        errors["iban"] = ["This is not a valid IBAN; check the country code and the digits."]
    try:
        email = validate_email(payout_email or "", check_deliverability=False).normalized
    except EmailNotValidError:
        errors["payout_email"] = ["Give the e-mail address for payout statements."]
    if errors:
        raise ValidationFailed("Some payout details need fixing; see the fields.", details=errors)
    user.payout_details = json.dumps(
        {"account_holder": holder, "iban": compact, "payout_email": email}
    )
    db.session.flush()
    return payout_summary(user)


def payout_summary(user: User) -> dict | None:
    """What pages show of the payout account: the IBAN masked to its last four characters."""
    if not user.payout_details:
        return None
    details = json.loads(user.payout_details)
    return {
        "account_holder": details["account_holder"],
        "iban_masked": "•••• " + details["iban"][-4:],
        "payout_email": details["payout_email"],
    }
