"""A partial index of completed jobs by device and finish time, for the wait estimate.

A queued job's page and polls estimate its wait from the median run time of its device's
latest completed jobs. Without this index PostgreSQL read every completed job and sorted
them for the latest 20 (27 ms for 100,000 jobs, growing with the table); with it the latest
20 of a device are an index range scan.

Revision ID: 0012_completed_runs_index
Revises: 0011_usage_nulls_not_distinct
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_completed_runs_index"
down_revision = "0011_usage_nulls_not_distinct"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_jobs_device_id_finished_at_completed",
        "jobs",
        ["device_id", "finished_at"],
        postgresql_where=sa.text("status = 'COMPLETED'"),
    )


def downgrade():
    op.drop_index("ix_jobs_device_id_finished_at_completed", table_name="jobs")
