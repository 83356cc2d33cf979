"""The per-user signing secret and one row per delivery attempt."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.crypto import EncryptedText
from portal.core.db import Timestamped, UTCDateTime
from portal.core.extensions import db


class WebhookSecret(Timestamped, db.Model):
    """A user's webhook signing secret: shown to its owner (who verifies signatures with it),
    so it is encrypted at rest (Fernet, ``portal.core.crypto``), not hashed."""

    __tablename__ = "webhook_secrets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    secret: Mapped[str] = mapped_column(EncryptedText)


class WebhookDelivery(Timestamped, db.Model):
    """One attempt to deliver a job's final state. A pending attempt has ``attempted_at``
    NULL and is due at ``next_attempt_at``; a failed attempt that may be retried is followed
    by a new pending row (attempt + 1)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_job_id_attempt", "job_id", "attempt"),
        # The reconciler tick looks for due attempts.
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("attempted_at IS NULL"),
        ),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    event: Mapped[str] = mapped_column(sa.String(40))
    url: Mapped[str] = mapped_column(sa.String(2000))
    replay: Mapped[bool] = mapped_column(default=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None]
    response_excerpt: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int | None]

    @property
    def state(self) -> str:
        if self.attempted_at is None:
            return "PENDING"
        if self.status_code is not None and 200 <= self.status_code < 300:
            return "SUCCEEDED"
        return "FAILED"
