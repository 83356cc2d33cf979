"""Usage counters: the unique key treats a NULL app as one value (NULLS NOT DISTINCT,
PostgreSQL 15+), so a counter without an app (a user's own circuits, API requests) is one
``INSERT .. ON CONFLICT DO UPDATE`` like every other, with no advisory lock and UPDATE
before it. Rows the old key let through twice (none are expected: writers serialised them
with an advisory lock) are merged first.

Revision ID: 0011_usage_nulls_not_distinct
Revises: 0010_search_keywords
Create Date: 2026-12-09
"""

from alembic import op

revision = "0011_usage_nulls_not_distinct"
down_revision = "0010_search_keywords"
branch_labels = None
depends_on = None

KEY = ["user_id", "quantum_app_id", "endpoint", "date"]


def upgrade() -> None:
    op.execute(
        """
        WITH ranked AS (
            SELECT id,
                   count(*) OVER w AS copies,
                   sum(request_count) OVER w AS requests,
                   sum(compute_time_seconds) OVER w AS seconds,
                   row_number() OVER w AS n
            FROM usage_analytics
            WHERE quantum_app_id IS NULL
            WINDOW w AS (PARTITION BY user_id, endpoint, date ORDER BY created_at, id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ), merged AS (
            UPDATE usage_analytics u
            SET request_count = r.requests, compute_time_seconds = r.seconds
            FROM ranked r
            WHERE u.id = r.id AND r.n = 1 AND r.copies > 1
        )
        DELETE FROM usage_analytics u USING ranked r WHERE u.id = r.id AND r.n > 1
        """
    )
    op.drop_index("ix_usage_analytics_key", table_name="usage_analytics")
    op.create_index(
        "ix_usage_analytics_key",
        "usage_analytics",
        KEY,
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_index("ix_usage_analytics_key", table_name="usage_analytics")
    op.create_index("ix_usage_analytics_key", "usage_analytics", KEY, unique=True)
