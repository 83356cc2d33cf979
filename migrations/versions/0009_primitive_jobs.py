"""Primitive jobs and reproducible runs (issue 21): a job's primitive (sampler/estimator) and
its PUBs, per-shot memory, the simulator seed and the device's noise-model version.

Revision ID: 0009_primitive_jobs
Revises: 0008_job_webhooks
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_primitive_jobs"
down_revision = "0008_job_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("jobs", sa.Column("primitive", sa.String(20), nullable=True))
    op.add_column("jobs", sa.Column("pubs", postgresql.JSONB(), nullable=True))
    op.add_column(
        "jobs", sa.Column("memory", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("jobs", sa.Column("seed_simulator", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("noise_model_version", sa.String(64), nullable=True))


def downgrade():
    for column in ("noise_model_version", "seed_simulator", "memory", "pubs", "primitive"):
        op.drop_column("jobs", column)
