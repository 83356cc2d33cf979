"""JWT access and refresh tokens.

One pinned algorithm (HS256), and every token must carry ``exp``, ``iat``, ``sub``, ``jti``
and ``sid``. A refresh token's ``sid`` names a ``user_sessions`` row; revoking that row (log
out, "revoke session") ends the access tokens issued under it as well.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from flask import current_app

from portal.accounts.models import User, UserSession
from portal.core.db import utcnow
from portal.core.errors import Unauthorized
from portal.core.extensions import db
from portal.core.security import hash_token

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "sid", "typ"]


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session: UserSession


def _encode(claims: dict) -> str:
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM)


def _access_token(user: User, session: UserSession) -> tuple[str, int]:
    lifetime = current_app.config["JWT_ACCESS_MINUTES"] * 60
    now = utcnow()
    token = _encode(
        {
            "sub": str(user.id),
            "sid": str(session.id),
            "jti": uuid.uuid4().hex,
            "typ": "access",
            "iat": now,
            "exp": now + timedelta(seconds=lifetime),
        }
    )
    return token, lifetime


def issue_tokens(user: User, ip_address: str | None = None, user_agent: str | None = None):
    """Start an API session for ``user``: a user_sessions row, an access and a refresh token."""
    now = utcnow()
    refresh_jti = uuid.uuid4().hex
    session = UserSession(
        user_id=user.id,
        token=hash_token(refresh_jti),
        issued_at=now,
        expires_at=now + timedelta(days=current_app.config["JWT_REFRESH_DAYS"]),
        ip_address=(ip_address or "")[:50] or None,
        user_agent=(user_agent or "")[:255] or None,
        kind="api",
        last_seen_at=now,
    )
    db.session.add(session)
    db.session.flush()
    refresh = _encode(
        {
            "sub": str(user.id),
            "sid": str(session.id),
            "jti": refresh_jti,
            "typ": "refresh",
            "iat": now,
            "exp": session.expires_at,
        }
    )
    access, lifetime = _access_token(user, session)
    return TokenPair(access, refresh, lifetime, session)


def decode(token: str, expected_type: str) -> dict:
    """Verify signature, algorithm, expiry and required claims, or raise 401."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; sign in again or refresh it.")
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid.")
    if claims.get("typ") != expected_type:
        raise Unauthorized(f"A {expected_type} token is required here.")
    return claims


def active_session(claims: dict) -> UserSession:
    """The live session a token belongs to, or 401 if it was revoked or has expired."""
    try:
        session_id = uuid.UUID(claims["sid"])
    except (ValueError, TypeError):
        raise Unauthorized("The token is not valid.")
    session = db.session.get(UserSession, session_id)
    if (
        session is None
        or not session.is_active
        or session.expires_at <= utcnow()
        or str(session.user_id) != claims["sub"]
    ):
        raise Unauthorized("This session has ended; sign in again.")
    return session


def refresh_tokens(refresh_token: str) -> TokenPair:
    """A new access token for a valid, unrevoked refresh token (the refresh token stays)."""
    claims = decode(refresh_token, "refresh")
    session = active_session(claims)
    if session.token != hash_token(claims["jti"]):
        raise Unauthorized("This refresh token has been replaced; sign in again.")
    user = db.session.get(User, session.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This account is not active.")
    session.last_seen_at = utcnow()
    access, lifetime = _access_token(user, session)
    return TokenPair(access, refresh_token, lifetime, session)


def revoke_session(session: UserSession) -> None:
    session.is_active = False
