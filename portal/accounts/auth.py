"""Who is calling: browser sessions for pages, bearer tokens and API keys for the API,
and the one helper that enforces roles and scopes everywhere.

Every credential goes through one list of authenticators (``AUTHENTICATORS``: browser
session for pages; subscription key, personal API key and JWT bearer for the API), each
yielding an ``Actor`` (user, credential kind, scopes, the key). API routes use
``@api_auth(scope=..., roles=..., subscription_key=...)``; it sets ``g.actor``, ``g.api_user``
and ``g.api_key``. Pages use ``@page_auth(roles=...)``. What an actor may do to a resource is
decided by the domain policies (``portal/<domain>/policy.py``).
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
import structlog
from flask import after_this_request, current_app, g, request, session
from flask_login import current_user
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import joinedload

from portal.accounts.credentials import API_KEY, BEARER, SESSION, SUBSCRIPTION_KEY
from portal.accounts.models import ApiKeyStatus, Role, User, UserApiKey
from portal.accounts.policy import check_credential
from portal.accounts.services import live_web_session, touch_web_session
from portal.accounts.tokens import active_session, decode
from portal.core.db import utcnow
from portal.core.errors import Forbidden, RateLimited, Unauthorized
from portal.core.extensions import db, login_manager
from portal.core.security import hash_token, token_matches

# What each API key scope allows. A bearer token (a signed-in person) may do everything.
SCOPES = {
    "read": {"read"},
    "jobs": {"read", "jobs"},
    "full": {"read", "jobs", "full"},
}
DEFAULT_KEY_RATE_LIMIT = "120/minute"
# Personal API keys are ``qh_…``; other kinds of X-API-Key register their prefix
# (``register_key_kind``: the marketplace's subscription keys): the prefix says which
# authenticator takes a key.
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
    try:
        user_key = uuid.UUID(user_id)
    except ValueError:
        return None
    live = live_web_session(session.get(WEB_SESSION_KEY), user_key)
    if live is None or not live.user.is_active:
        return None
    touch_web_session(live)  # committed with the request
    return live.user


def key_grants(key_scopes: list[str], needed: str) -> bool:
    return needed in expand_scopes(key_scopes)


def _rate_storage():
    """This app's ``limits`` storage (Redis), built once per app from RATELIMIT_STORAGE_URI
    (``REDIS_URL`` unless set). Limits are counted only where a view asks
    (``check_rate_limit``): no per-request extension runs on every page."""
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


def check_key(
    key: Any,
    raw_key: str,
    *,
    what: str,
    owner: User,
    rate: str | None,
    bucket: str,
    touch_every: timedelta = KEY_TOUCH_EVERY,
) -> None:
    """The checks every stored key gets (personal API keys and subscription keys alike):
    it exists and matches, is active, has not expired, its owner is active; then one hit on
    its rate limit (429 past it) and ``last_used_at`` touched at most once per
    ``touch_every`` (a read-only call then costs no UPDATE)."""
    if key is None or not token_matches(raw_key, key.value):
        raise Unauthorized(f"The {what} is not valid.")
    if key.status is not ApiKeyStatus.ACTIVE:
        raise Unauthorized(f"This {what} is {key.status.value.lower()}.")
    if key.expire_at is not None and key.expire_at <= utcnow():
        raise Unauthorized(f"This {what} has expired; create a new one.")
    if owner is None or not owner.is_active:
        raise Unauthorized("This account is not active.")
    check_rate_limit(rate, bucket, str(key.id), what=f"this {what}")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > touch_every:
        key.last_used_at = now


def authenticate_stored_key(
    statement: sa.Select,
    raw_key: str,
    *,
    owner_of: Callable[[Any], User],
    what: str,
    default_rate: str,
    bucket: str,
    touch_every: timedelta = KEY_TOUCH_EVERY,
) -> tuple[User, Any]:
    """The one way a stored key authenticates (personal API keys and subscription keys):
    found by its SHA-256 hash (``statement`` selects the key by a ``value`` bind parameter),
    then ``check_key`` with its own rate limit (``default_rate`` when it has none).
    Returns (owner, key) or raises 401 / 429."""
    key = db.session.execute(statement, {"value": hash_token(raw_key)}).scalar_one_or_none()
    owner = owner_of(key) if key is not None else None
    check_key(key, raw_key, what=what, owner=owner, rate=(key and key.rate_limit) or default_rate,
              bucket=bucket, touch_every=touch_every)  # fmt: skip
    return owner, key


def authenticate_api_key(raw_key: str) -> tuple[User, UserApiKey]:
    return authenticate_stored_key(
        _key_by_hash(), raw_key, owner_of=lambda key: key.user, what="API key",
        default_rate=DEFAULT_KEY_RATE_LIMIT, bucket="api-key",
    )  # fmt: skip


def authenticate_bearer(token: str) -> User:
    claims = decode(token, "access")
    session = active_session(claims)
    g.api_session_id = session.id  # what POST /auth/logout revokes
    user = db.session.get(User, session.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This account is not active.")
    return user


# -- the one list of authenticators ----------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is calling and with what: the user, the kind of credential, the scopes it holds
    and, for a subscription key, the key (and through it the subscription). Every policy
    (``portal/<domain>/policy.py``) decides from an actor."""

    user: User
    kind: str  # one of portal.accounts.credentials.CREDENTIAL_KINDS
    scopes: frozenset[str]
    credential: Any = None  # the UserApiKey or SubscriptionKey row; None for sessions/JWTs

    @property
    def subscription_key(self):
        return self.credential if self.kind == SUBSCRIPTION_KEY else None

    @property
    def subscription(self):
        key = self.subscription_key
        return key.subscription if key is not None else None

    @property
    def api_key(self):
        return self.credential if self.kind == API_KEY else None

    def grants(self, scope: str) -> bool:
        return scope in self.scopes


# A person signed in (browser session or JWT) holds every scope.
PERSON_SCOPES = frozenset(SCOPES["full"])
# A subscription key holds only its own scope: it runs its app and reads or cancels the jobs
# it started (``portal.accounts.policy.check_credential``), nothing of its owner's account.
SUBSCRIPTION_SCOPE = "subscription"


def expand_scopes(key_scopes: list[str] | None) -> frozenset[str]:
    granted: set[str] = set()
    for scope in key_scopes or []:
        granted |= SCOPES.get(scope, set())
    return frozenset(granted)


# An authenticator looks at the request and returns an Actor, None (not its credential), or
# raises Unauthorized (its credential, but not valid). ``channels``: "api" and/or "page".
Authenticator = Callable[[], "Actor | None"]
AUTHENTICATORS: list[tuple[str, frozenset[str], Authenticator]] = []


def authenticator(name: str, channels: tuple[str, ...] = ("api",)):
    """Register an authenticator (once per name; re-imports replace it, keeping its place)."""

    def register(function: Authenticator) -> Authenticator:
        entry = (name, frozenset(channels), function)
        for i, (existing, _c, _f) in enumerate(AUTHENTICATORS):
            if existing == name:
                AUTHENTICATORS[i] = entry
                break
        else:
            AUTHENTICATORS.append(entry)
        return function

    return register


@authenticator("session", channels=("page",))
def _session_actor() -> Actor | None:
    if current_user.is_authenticated:
        return Actor(current_user._get_current_object(), SESSION, PERSON_SCOPES)
    return None


# Key kinds other than personal API keys: prefix -> (authenticate(raw key) -> (user, key),
# credential kind, scopes). A domain above accounts registers its kind at app creation.
KeyAuthenticator = Callable[[str], "tuple[User, Any]"]
KEY_KINDS: dict[str, tuple[KeyAuthenticator, str, frozenset[str]]] = {}


def register_key_kind(
    prefix: str, authenticate: KeyAuthenticator, *, kind: str, scopes: frozenset[str]
) -> None:
    """X-API-Keys ``<prefix>_…`` are authenticated by ``authenticate`` (401 when invalid)
    and act as credential ``kind`` with ``scopes`` (idempotent)."""
    KEY_KINDS[prefix] = (authenticate, kind, scopes)


def _registered_kind(raw_key: str):
    prefix, underscore, _rest = raw_key.partition("_")
    return KEY_KINDS.get(prefix) if underscore else None


@authenticator("subscription_key")
def _registered_key_actor() -> Actor | None:
    raw_key = request.headers.get("X-API-Key", "").strip()
    registered = _registered_kind(raw_key)
    if registered is None:
        return None
    authenticate, kind, scopes = registered
    user, key = authenticate(raw_key)
    return Actor(user, kind, scopes, key)


@authenticator("api_key")
def _api_key_actor() -> Actor | None:
    raw_key = request.headers.get("X-API-Key", "").strip()
    if not raw_key or _registered_kind(raw_key) is not None:
        return None
    user, key = authenticate_api_key(raw_key)
    return Actor(user, API_KEY, expand_scopes(key.scopes), key)


@authenticator("bearer")
def _bearer_actor() -> Actor | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return Actor(authenticate_bearer(token.strip()), BEARER, PERSON_SCOPES)


def authenticate(channel: str = "api") -> Actor | None:
    """The caller, from the first authenticator of ``channel`` that recognises a credential;
    None when none is sent. The actor is kept on ``g.actor`` for the request."""
    for _name, channels, function in AUTHENTICATORS:
        if channel in channels:
            actor = function()
            if actor is not None:
                g.actor = actor
                return actor
    return None


def authenticate_request() -> Actor:
    """The API caller (``Authorization: Bearer`` or ``X-API-Key``), or raise 401."""
    actor = authenticate("api")
    if actor is None:
        raise Unauthorized(
            "Authentication required: send 'Authorization: Bearer <access token>' or "
            "'X-API-Key: <key>'."
        )
    return actor


def optional_actor() -> Actor | None:
    """The caller when credentials are sent (public routes), None for anonymous calls."""
    if request.headers.get("X-API-Key") or request.headers.get("Authorization"):
        return authenticate_request()
    return None


def require_roles(user: User, roles: tuple[Role, ...]) -> None:
    if roles and not any(user.has_role(role) for role in roles):
        names = " or ".join(r.value for r in roles)
        raise Forbidden(f"This needs the {names} role.")


def api_auth(
    scope: str = "read",
    roles: tuple[Role, ...] = (),
    *,
    subscription_key: bool = False,
    anonymous: bool = False,
):
    """Authenticate an API call and let ``portal.accounts.policy.check_credential`` decide
    whether its credential may call this operation: API keys must hold ``scope`` ("read",
    "jobs" or "full"); subscription keys only reach operations marked
    ``subscription_key=True`` (run its app, its jobs). Sets ``g.api_user`` and ``g.api_key``;
    the OpenAPI document gets ``x-required-scope``. ``anonymous=True``: a call without any
    credentials runs with ``g.api_user = None``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if anonymous and not (
                request.headers.get("X-API-Key") or request.headers.get("Authorization")
            ):
                g.api_user, g.api_key = None, None
                return view(*args, **kwargs)
            actor = authenticate_request()
            check_credential(actor, scope, subscription_key=subscription_key)
            require_roles(actor.user, roles)
            g.api_user, g.api_key = actor.user, actor.credential
            return view(*args, **kwargs)

        wrapper._api_auth = True
        wrapper._required_scope = scope
        wrapper._subscription_key = subscription_key
        # flask-smorest reads ``_apidoc`` (copied outward by functools.wraps): the OpenAPI
        # document then says which credentials each protected operation takes.
        # Merged, not replaced: above flask-smorest's decorators (a MethodView method) the
        # copied ``_apidoc`` already holds the documented arguments and responses.
        apidoc = dict(getattr(wrapper, "_apidoc", {}))
        # Subscription keys travel in X-API-Key too (``apiKey``); ``x-subscription-key`` says
        # whether this operation takes one.
        security = [{"bearerAuth": []}, {"apiKey": []}]
        apidoc["manual_doc"] = {
            **apidoc.get("manual_doc", {}),
            "security": [*security, *([{}] if anonymous else [])],
            "x-required-scope": scope,
            "x-subscription-key": subscription_key,
        }
        if roles:
            apidoc["manual_doc"]["x-required-roles"] = [r.value for r in roles]
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
    if current_app.config["ENV_NAME"] == "production":
        return current_app.config["BASE_URL"]
    return request.host_url
