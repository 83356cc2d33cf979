"""Marketplace: a shared usage allowance per subscription, one trial per user and app.

Beyond 0001, and why:
- subscriptions.usage_limit / remaining_usage_count: the runs a subscription allows, shared by
  all of its keys (a second key must not double the allowance). Jobs decrement
  remaining_usage_count with one conditional UPDATE, so concurrent jobs never overspend.
  NULL means unlimited. subscription_keys.remaining_usage_count stays as an optional
  per-key cap.
- subscriptions.usage_resets_at: when the allowance refills (the paid period's end), so a
  refusal can say when usage resets, and a late duplicate renewal does not refill it twice.
- subscriptions.payment_event_at: the creation time of the newest payment event applied;
  Stripe does not guarantee delivery order, so older events are ignored.
- ux_subscriptions_one_trial: a partial unique index, one TRIAL subscription per (user, app),
  enforced by the database even when two trial requests race.

Revision ID: 0003_marketplace
Revises: 0002_apps
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0003_marketplace"
down_revision = "0002_apps"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("subscriptions", sa.Column("usage_limit", sa.Integer(), nullable=True))
    op.add_column(
        "subscriptions", sa.Column("remaining_usage_count", sa.Integer(), nullable=True)
    )
    op.add_column(
        "subscriptions", sa.Column("usage_resets_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "subscriptions", sa.Column("payment_event_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ux_subscriptions_one_trial",
        "subscriptions",
        ["user_id", "quantum_app_id"],
        unique=True,
        postgresql_where=sa.text("subscription_type = 'TRIAL'"),
    )


def downgrade():
    op.drop_index("ux_subscriptions_one_trial", table_name="subscriptions")
    op.drop_column("subscriptions", "payment_event_at")
    op.drop_column("subscriptions", "usage_resets_at")
    op.drop_column("subscriptions", "remaining_usage_count")
    op.drop_column("subscriptions", "usage_limit")
