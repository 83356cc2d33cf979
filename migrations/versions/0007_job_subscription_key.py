"""Which subscription key started a job (issue 18: least-privilege credentials).

A subscription key may read and cancel only the jobs it started, not every job of its
subscription (another key of the same subscription, or its owner signed in, start others), so
the job records the key. Nullable: jobs not started with a subscription key have none; SET NULL
when a key row is deleted (the job stays its owner's).

Revision ID: 0007_job_subscription_key
Revises: 0006_queued_jobs_index
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_job_subscription_key"
down_revision = "0006_queued_jobs_index"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("jobs", sa.Column("subscription_key_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_jobs_subscription_key_id",
        "jobs",
        "subscription_keys",
        ["subscription_key_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_jobs_subscription_key_id",
        "jobs",
        ["subscription_key_id"],
        postgresql_where=sa.text("subscription_key_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_jobs_subscription_key_id", table_name="jobs")
    op.drop_constraint("fk_jobs_subscription_key_id", "jobs", type_="foreignkey")
    op.drop_column("jobs", "subscription_key_id")
