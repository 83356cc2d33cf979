"""Marketplace listings, subscriptions, subscription keys and reviews."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import ApiKeyStatus
from portal.core import cache
from portal.core.db import Money, StringArray, Timestamped, UTCDateTime, enum_column
from portal.core.extensions import db


class MarketplaceListingStatus(enum.Enum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    DELISTED = "DELISTED"


class SubscriptionType(enum.Enum):
    TRIAL = "TRIAL"
    MONTHLY = "MONTHLY"
    ANNUAL = "ANNUAL"
    PAY_AS_YOU_GO = "PAY_AS_YOU_GO"


class SubscriptionStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class MarketplaceListing(Timestamped, db.Model):
    __tablename__ = "marketplace_listings"
    __table_args__ = (sa.Index("ix_marketplace_listings_status_rating", "status", "rating"),)

    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE"), unique=True
    )
    listed_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    status: Mapped[MarketplaceListingStatus] = mapped_column(
        enum_column(MarketplaceListingStatus), default=MarketplaceListingStatus.ACTIVE
    )
    rating: Mapped[float] = mapped_column(default=0.0)
    rating_count: Mapped[int] = mapped_column(default=0)
    preview_enabled: Mapped[bool] = mapped_column(default=False)
    support_email: Mapped[str | None] = mapped_column(sa.String(100))
    support_url: Mapped[str | None] = mapped_column(sa.String(255))
    # Beyond the seed: what the listing offers and how generous its trial is.
    subscription_types: Mapped[list[str]] = mapped_column(
        StringArray, default=lambda: [SubscriptionType.TRIAL.name, SubscriptionType.MONTHLY.name]
    )
    trial_usage_limit: Mapped[int] = mapped_column(default=10)
    trial_days: Mapped[int] = mapped_column(default=14)
    paid_usage_limit: Mapped[int | None]

    app = relationship("QuantumApp")


class Subscription(Timestamped, db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.Index("ix_subscriptions_user_id_status", "user_id", "status"),
        sa.Index("ix_subscriptions_quantum_app_id", "quantum_app_id"),
        # One trial per user per app, guaranteed by the database even under races.
        sa.Index(
            "ux_subscriptions_one_trial",
            "user_id",
            "quantum_app_id",
            unique=True,
            postgresql_where=sa.text("subscription_type = 'TRIAL'"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE")
    )
    subscription_type: Mapped[SubscriptionType] = mapped_column(enum_column(SubscriptionType))
    start_date: Mapped[datetime] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_column(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    service_uri: Mapped[str | None] = mapped_column(sa.String(255))
    rate: Mapped[Decimal | None] = mapped_column(Money)
    # Beyond the seed: the payment provider's references, so webhooks find the row.
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    # Beyond 0001 (migration 0006): the allowance shared by all keys of the subscription,
    # when it resets, and the time of the newest payment event applied (to ignore stale ones).
    usage_limit: Mapped[int | None]
    remaining_usage_count: Mapped[int | None]
    usage_resets_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    app = relationship("QuantumApp")
    user = relationship("User")


class SubscriptionKey(Timestamped, db.Model):
    """A key that runs a subscription's app. ``value`` is the SHA-256 of the key."""

    __tablename__ = "subscription_keys"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[str] = mapped_column(sa.String(255), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    type: Mapped[SubscriptionType] = mapped_column(enum_column(SubscriptionType))
    remaining_usage_count: Mapped[int | None]
    rate_limit: Mapped[str | None] = mapped_column(sa.String(50))
    status: Mapped[ApiKeyStatus] = mapped_column(
        enum_column(ApiKeyStatus), default=ApiKeyStatus.ACTIVE
    )
    expire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[Subscription] = relationship()


class Review(Timestamped, db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        sa.UniqueConstraint("quantum_app_id", "user_id"),
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
    )

    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    rating: Mapped[int]
    title: Mapped[str | None] = mapped_column(sa.String(100))
    content: Mapped[str | None] = mapped_column(sa.Text)

    user = relationship("User")


# Listings change with the marketplace's listings and reviews (portal.core.cache).
cache.watch(MarketplaceListing, Review)
