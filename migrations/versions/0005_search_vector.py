"""Registry search reads a stored tsvector instead of computing one per row.

quantum_apps.search_vector is a generated column holding the weighted document the search
matches and ranks (name A, description B, README C): the database keeps it current on every
insert and update. A search then rechecks and ranks with the stored vector, where before it
ran to_tsvector over each matching README (about 60 ms for a word matching 900 of 10,000
apps; a few ms now). It is not mapped on the model (the database computes it). Replaces the
expression index ix_quantum_apps_search.

Revision ID: 0005_search_vector
Revises: 0004_payout
Create Date: 2026-11-26
"""

from alembic import op

# The expression of 0002's index, copied: a migration must not change with the models.
SEARCH_VECTOR_SQL = (
    "((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::character varying)::text), "
    "'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\")) || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(readme_content, ''::text)), "
    "'C'::\"char\"))"
)

revision = "0005_search_vector"
down_revision = "0004_payout"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "ALTER TABLE quantum_apps ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({SEARCH_VECTOR_SQL}) STORED"
    )
    op.drop_index("ix_quantum_apps_search", table_name="quantum_apps")
    op.execute("CREATE INDEX ix_quantum_apps_search ON quantum_apps USING gin (search_vector)")


def downgrade():
    op.drop_index("ix_quantum_apps_search", table_name="quantum_apps")
    op.execute("ALTER TABLE quantum_apps DROP COLUMN search_vector")
    op.execute(f"CREATE INDEX ix_quantum_apps_search ON quantum_apps USING gin ({SEARCH_VECTOR_SQL})")
