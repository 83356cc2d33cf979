"""In-app notifications."""

from __future__ import annotations

import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import Timestamped, enum_column
from portal.core.extensions import db


class NotificationType(enum.Enum):
    INFO = "INFO"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    JOB = "JOB"
    SUBSCRIPTION = "SUBSCRIPTION"
    PAYMENT = "PAYMENT"
    REVIEW = "REVIEW"
    BUDGET = "BUDGET"


class Notification(Timestamped, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_id_read_created_at", "user_id", "read", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(100))
    message: Mapped[str] = mapped_column(sa.Text)
    type: Mapped[NotificationType] = mapped_column(
        enum_column(NotificationType), default=NotificationType.INFO
    )
    read: Mapped[bool] = mapped_column(default=False)
    # Beyond the seed: where the notification points to.
    link: Mapped[str | None] = mapped_column(sa.String(255))
