"""Who is calling: browser sessions for pages, bearer tokens and API keys for the API,
and the one helper that enforces roles and scopes everywhere.

API routes use ``@api_auth(scope=..., roles=...)``; it sets ``g.api_user`` (the User) and
``g.api_key`` (the UserApiKey, or None for a bearer token). Pages use ``@page_auth(roles=...)``.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import g, request, session
from flask_login import current_user
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import joinedload

from portal.accounts.models import ApiKeyStatus, Role, User, UserApiKey
from portal.core.db import utcnow
from portal.core.errors import Forbidden, RateLimited, Unauthorized
from portal.core.security import hash_token, token_matches
from portal.extensions import db, login_manager

# What each API key scope allows. A bearer token (a signed-in person) may do everything.
SCOPES = {
    "read": {"read"},
    "jobs": {"read", "jobs"},
    "full": {"read", "jobs", "full"},
}
DEFAULT_KEY_RATE_LIMIT = "120/minute"
KEY_TOUCH_EVERY = timedelta(minutes=1)
# The Flask session key naming the user_sessions row of this browser sign-in.
WEB_SESSION_KEY = "qh_sid"

login_manager.login_view = "accounts.login"
login_manager.login_message = "Sign in to see this page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, only while their browser session row is still active: revoking
    the row (settings page, password change, deactivation) signs that browser out."""
    from portal.accounts.services import live_web_session, touch_web_session

    try:
        user_key = uuid.UUID(user_id)
    except ValueError:
        return None
    row = live_web_session(session.get(WEB_SESSION_KEY), user_key)
    if row is None:
        return None
    user = db.session.get(User, user_key)  # loaded with the session row: no query
    if user is None or not user.is_active:
        return None
    touch_web_session(row)  # committed with the request
    return user


def key_grants(key_scopes: list[str], needed: str) -> bool:
    granted: set[str] = set()
    for scope in key_scopes or []:
        granted |= SCOPES.get(scope, set())
    return needed in granted


def _rate_storage():
    """This app's ``limits`` storage (Redis), built once per app from RATELIMIT_STORAGE_URI
    (``REDIS_URL`` unless set). Limits are counted only where a view asks
    (``check_rate_limit``): no per-request extension runs on every page."""
    from flask import current_app

    storage = current_app.extensions.get("qh_rate_storage")
    if storage is None:
        storage = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        current_app.extensions["qh_rate_storage"] = storage
    return storage


# Without Redis, limits are counted in this process (a safe local limit: each process allows
# at most the configured rate) and Redis is tried again after this many seconds.
RATE_STORAGE_RETRY_SECONDS = 5.0


def _hit(item, identifiers: tuple[str, ...]):
    """Count one hit: in Redis, or in this process while Redis is unreachable (never a 500).
    Returns (allowed, the storage that counted it)."""
    import time

    import structlog
    from flask import current_app

    fallback = current_app.extensions.setdefault("qh_rate_fallback", {"down_until": 0.0})
    if time.monotonic() >= fallback["down_until"]:
        storage = _rate_storage()
        try:
            return MovingWindowRateLimiter(storage).hit(item, *identifiers), storage
        except Exception as exc:  # Redis down: the local limit, and Redis again in a while
            fallback["down_until"] = time.monotonic() + RATE_STORAGE_RETRY_SECONDS
            structlog.get_logger("portal.accounts").warning(
                "rate limits counted in-process: Redis unreachable", error=str(exc)[:200]
            )
    if "storage" not in fallback:
        fallback["storage"] = storage_from_string("memory://")
    storage = fallback["storage"]
    return MovingWindowRateLimiter(storage).hit(item, *identifiers), storage


def _refund(storage, item, identifiers: tuple[str, ...]) -> None:
    """Take back the newest hit (an attempt refused because a dependency was down)."""
    import contextlib

    key = item.key_for(*identifiers)
    with contextlib.suppress(Exception):
        if hasattr(storage, "events"):  # the in-process storage
            with storage.locks[key]:
                if storage.events.get(key):
                    storage.events[key].pop(0)
        else:
            storage.get_connection().lpop(storage.prefixed_key(key))


def check_rate_limit(
    rate: str | None, *identifiers: str, what: str = "this key", refund_on_503: bool = False
) -> None:
    """Count one hit against ``rate`` (e.g. "60/minute") or raise 429 with Retry-After.
    With Redis down the hit is counted in this process instead. ``refund_on_503``: the hit
    is taken back if the request ends 503 (a dependency was down: not an attempt)."""
    item = parse_limit(rate or DEFAULT_KEY_RATE_LIMIT)
    allowed, storage = _hit(item, identifiers)
    if not allowed:
        try:
            reset_at, _remaining = MovingWindowRateLimiter(storage).get_window_stats(
                item, *identifiers
            )
        except Exception:
            reset_at = utcnow().timestamp() + item.get_expiry()
        retry = max(1, int(reset_at - utcnow().timestamp()) + 1)
        raise RateLimited(
            f"Rate limit of {rate or DEFAULT_KEY_RATE_LIMIT} reached for {what}; "
            f"retry in {retry} s.",
            retry_after=retry,
            details={"limit": rate or DEFAULT_KEY_RATE_LIMIT, "retry_after": retry},
        )
    if refund_on_503:
        from flask import after_this_request

        @after_this_request
        def refund_if_unavailable(response):
            if response.status_code == 503:
                _refund(storage, item, identifiers)
            return response


# The key and its owner in one query, built once (its SQLAlchemy cache key is reused).
@functools.cache
def _key_by_hash():
    return (
        sa.select(UserApiKey)
        .options(joinedload(UserApiKey.user))
        .where(UserApiKey.value == sa.bindparam("value"))
    )


def authenticate_api_key(raw_key: str) -> tuple[User, UserApiKey]:
    key = db.session.execute(_key_by_hash(), {"value": hash_token(raw_key)}).scalar_one_or_none()
    if key is None or not token_matches(raw_key, key.value):
        raise Unauthorized("The API key is not valid.")
    if key.status is not ApiKeyStatus.ACTIVE:
        raise Unauthorized(f"This API key is {key.status.value.lower()}.")
    if key.expire_at is not None and key.expire_at <= utcnow():
        raise Unauthorized("This API key has expired; create a new one.")
    user = key.user
    if not user.is_active:
        raise Unauthorized("This account is not active.")
    check_rate_limit(key.rate_limit, "api-key", str(key.id))
    now = utcnow()
    # At most one write a minute per key: a read-only call then costs no UPDATE + COMMIT.
    if key.last_used_at is None or now - key.last_used_at > KEY_TOUCH_EVERY:
        key.last_used_at = now
    return user, key


def authenticate_bearer(token: str) -> User:
    from portal.accounts.tokens import active_session, decode

    claims = decode(token, "access")
    session = active_session(claims)
    g.api_session_id = session.id  # what POST /auth/logout revokes
    user = db.session.get(User, session.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This account is not active.")
    return user


def authenticate_request() -> tuple[User, UserApiKey | None]:
    """Resolve the caller from ``Authorization: Bearer`` or ``X-API-Key``, or raise 401."""
    raw_key = request.headers.get("X-API-Key", "").strip()
    if raw_key.startswith("qhs_"):  # a marketplace subscription key (runs one app)
        from portal.marketplace.keys import authenticate_subscription_key

        return authenticate_subscription_key(raw_key)
    if raw_key:
        return authenticate_api_key(raw_key)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return authenticate_bearer(token.strip()), None
    raise Unauthorized(
        "Authentication required: send 'Authorization: Bearer <access token>' or "
        "'X-API-Key: <key>'."
    )


def require_roles(user: User, roles: tuple[Role, ...]) -> None:
    if roles and not any(user.has_role(role) for role in roles):
        names = " or ".join(r.value for r in roles)
        raise Forbidden(f"This needs the {names} role.")


def api_auth(scope: str = "read", roles: tuple[Role, ...] = ()):
    """Authenticate an API call; API keys must hold ``scope`` ("read", "jobs" or "full")."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user, key = authenticate_request()
            if key is not None and not key_grants(key.scopes, scope):
                raise Forbidden(
                    f"This API key lacks the '{scope}' scope; create a key that has it.",
                    details={"needed_scope": scope, "key_scopes": key.scopes},
                )
            require_roles(user, roles)
            g.api_user, g.api_key = user, key
            return view(*args, **kwargs)

        wrapper._api_auth = True
        # flask-smorest reads ``_apidoc`` (copied outward by functools.wraps): the OpenAPI
        # document then says which credentials each protected operation takes.
        # Merged, not replaced: above flask-smorest's decorators (a MethodView method) the
        # copied ``_apidoc`` already holds the documented arguments and responses.
        apidoc = dict(getattr(wrapper, "_apidoc", {}))
        apidoc["manual_doc"] = {
            **apidoc.get("manual_doc", {}),
            "security": [{"bearerAuth": []}, {"apiKey": []}],
        }
        wrapper._apidoc = apidoc
        return wrapper

    return decorate


def page_auth(roles: tuple[Role, ...] = ()):
    """Pages: send visitors to sign in, refuse users without the role."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            require_roles(current_user, roles)
            return view(*args, **kwargs)

        return wrapper

    return decorate


# Attempts allowed per client address and per account, for sign-in and password reset.
ATTEMPT_LIMITS = {
    "sign-in": ("30/minute", "10/minute"),
    "reset": ("10/minute", "5/hour"),
}


def limit_attempts(action: str, ip: str | None, account: str | None) -> None:
    """Count a sign-in or reset attempt by address and by account; 429 past the limits.
    Uses the ``limits`` storage (Redis). Limits can be changed with ``RATELIMIT_SIGN_IN`` /
    ``RATELIMIT_RESET`` = (per address, per account)."""
    from flask import current_app

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    per_ip, per_account = current_app.config.get(
        f"RATELIMIT_{action.upper().replace('-', '_')}", ATTEMPT_LIMITS[action]
    )
    # An attempt answered 503 (the database was down) is no attempt: its hits are taken back.
    check_rate_limit(
        per_ip,
        action,
        "ip",
        ip or "unknown",
        what="attempts from this address",
        refund_on_503=True,
    )
    if account and account.strip():
        check_rate_limit(
            per_account,
            action,
            "account",
            account.strip().lower(),
            what="this account",
            refund_on_503=True,
        )


def mail_link_base() -> str:
    """Where links in e-mails point. Production uses the configured QH_BASE_URL, never the
    request's Host header (a forged Host would send reset links to an attacker's site)."""
    from flask import current_app

    if current_app.config["ENV_NAME"] == "production":
        return current_app.config["BASE_URL"]
    return request.host_url
