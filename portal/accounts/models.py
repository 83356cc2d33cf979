"""Identity: users, profiles, API keys and sign-in sessions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.crypto import EncryptedText
from portal.core.db import JSONType, Money, StringArray, Timestamped, UTCDateTime, enum_column
from portal.core.extensions import db


class Role(enum.StrEnum):
    CONSUMER = "CONSUMER"
    PROVIDER = "PROVIDER"
    ADMIN = "ADMIN"


class ApiKeyStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class User(Timestamped, db.Model):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(sa.String(50), unique=True, index=True)
    email: Mapped[str] = mapped_column(sa.String(100), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(sa.String(255))
    full_name: Mapped[str | None] = mapped_column(sa.String(100))
    roles: Mapped[list[str]] = mapped_column(StringArray, default=lambda: [Role.CONSUMER.value])
    is_active: Mapped[bool] = mapped_column(default=True)
    is_provider: Mapped[bool] = mapped_column(default=False)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Beyond the seed: verification state, per-user preferences, and the spending budget.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    monthly_budget: Mapped[Decimal | None] = mapped_column(Money)
    # A provider's payout account (JSON text), encrypted at rest: the portal must read it
    # back to pay out, so it cannot be hashed.
    payout_details: Mapped[str | None] = mapped_column(EncryptedText)

    profile: Mapped[UserProfile | None] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan"
    )

    # Flask-Login protocol (is_active is a column).
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, role: Role | str) -> bool:
        return str(role) in (self.roles or [])

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


class UserProfile(Timestamped, db.Model):
    __tablename__ = "user_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    organization: Mapped[str | None] = mapped_column(sa.String(100))
    bio: Mapped[str | None] = mapped_column(sa.Text)
    avatar_url: Mapped[str | None] = mapped_column(sa.String(255))
    contact_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    social_links: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    user: Mapped[User] = relationship(back_populates="profile")


class UserApiKey(Timestamped, db.Model):
    """An API key. ``value`` holds the SHA-256 of the key, never the key itself; ``prefix``
    is the visible start of the key so people can tell their keys apart."""

    __tablename__ = "user_api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[str] = mapped_column(sa.String(255), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    scopes: Mapped[list[str]] = mapped_column(StringArray, default=list)
    status: Mapped[ApiKeyStatus] = mapped_column(
        enum_column(ApiKeyStatus), default=ApiKeyStatus.ACTIVE
    )
    rate_limit: Mapped[str | None] = mapped_column(sa.String(50))
    expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(Timestamped, db.Model):
    """A sign-in: a browser session or an API refresh token. ``token`` is the SHA-256 of the
    session's secret identifier; revoking the row ends the session everywhere."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(sa.String(255), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(sa.String(50))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Beyond the seed: what kind of sign-in, and when it was last used.
    kind: Mapped[str] = mapped_column(sa.String(10), default="web")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
