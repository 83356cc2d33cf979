"""Bills, their line items, and the payment provider's processed events."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import Money, Timestamped, UTCDateTime
from portal.core.extensions import db


class UserBill(Timestamped, db.Model):
    __tablename__ = "user_bills"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "period_start"),
        sa.Index("ix_user_bills_user_id_billing_date", "user_id", "billing_date"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    pending_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    billing_date: Mapped[datetime] = mapped_column(UTCDateTime)
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_status: Mapped[str | None] = mapped_column(sa.String(50))
    invoice_url: Mapped[str | None] = mapped_column(sa.String(255))
    # Beyond the seed: the period a bill covers, its currency, and whether it is closed.
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[BillingItem]] = relationship(
        back_populates="bill", cascade="all, delete-orphan", order_by="BillingItem.created_at"
    )


class BillingItem(Timestamped, db.Model):
    __tablename__ = "billing_items"

    bill_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("user_bills.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(sa.String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[int] = mapped_column(default=1)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    # Beyond the seed: every charge is traceable to the job it came from, at what unit price.
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20), default="job")
    unit_price: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))

    bill: Mapped[UserBill] = relationship(back_populates="items")


class PaymentEvent(Timestamped, db.Model):
    """Beyond the seed: each payment-provider event id is recorded once, so a replayed
    webhook has no second effect."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    event_type: Mapped[str] = mapped_column(sa.String(100))
    provider: Mapped[str] = mapped_column(sa.String(20), default="stripe")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
