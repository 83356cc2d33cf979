"""Per-day usage (the per-app counters are ``portal.apps.models.AppMetrics``)."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import Timestamped
from portal.core.extensions import db


class UsageAnalytics(Timestamped, db.Model):
    """One row per (user, app, endpoint, day). ``quantum_app_id`` is nullable beyond the
    seed because a user's own circuits belong to no app; ``endpoint`` is then the route."""

    __tablename__ = "usage_analytics"
    __table_args__ = (
        # NULLS NOT DISTINCT: a counter without an app is one row too (migration 0011).
        sa.Index(
            "ix_usage_analytics_key",
            "user_id",
            "quantum_app_id",
            "endpoint",
            "date",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        sa.Index("ix_usage_analytics_app_date", "quantum_app_id", "date"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    quantum_app_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE")
    )
    endpoint: Mapped[str] = mapped_column(sa.String(255), default="")
    request_count: Mapped[int] = mapped_column(default=0)
    compute_time_seconds: Mapped[float] = mapped_column(default=0.0)
    date: Mapped[date] = mapped_column(sa.Date)
