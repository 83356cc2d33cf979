"""A partial index of queued jobs by queue time, for a job's place in the queue.

Every status poll of a queued job counts the queued jobs ahead of it. Without this index the
count read the status index's QUEUED entries and then each row's queued_at from the table
(about 0.6 ms for 1,000 queued jobs, growing with the queue); with it the count is an
index-only range scan.

Revision ID: 0006_queued_jobs_index
Revises: 0005_search_vector
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_queued_jobs_index"
down_revision = "0005_search_vector"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_jobs_queued_at_queued",
        "jobs",
        ["queued_at"],
        postgresql_where=sa.text("status = 'QUEUED'"),
    )


def downgrade():
    op.drop_index("ix_jobs_queued_at_queued", table_name="jobs")
