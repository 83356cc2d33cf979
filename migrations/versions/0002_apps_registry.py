"""Apps and the Registry: likes, one latest version per app, full-text search.

Beyond 0001, and why:
- app_likes: one row per (user, app) so the registry's like toggle is idempotent and
  app_metrics.registry_likes can be recounted; the unique key stops double likes under races.
- app_versions.ux_app_versions_one_latest: a partial unique index (WHERE is_latest) so the
  database itself guarantees at most one latest version per app, whatever the races.
- quantum_apps.ix_quantum_apps_search: a GIN index over the weighted tsvector of name (A),
  description (B) and README (C), as an expression index; the registry query uses the
  identical expression (portal.apps.models.SEARCH_VECTOR_SQL) with websearch_to_tsquery, so
  the planner uses it. (0005 replaces it with a stored generated column.)

Revision ID: 0002_apps
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_apps'
down_revision = '0001'
branch_labels = None
depends_on = None

SEARCH_VECTOR_SQL = (
    "((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::character varying)::text), "
    "'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\")) || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(readme_content, ''::text)), "
    "'C'::\"char\"))"
)


def upgrade():
    op.create_table('app_likes',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_app_likes_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_app_likes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_likes')),
    sa.UniqueConstraint('user_id', 'quantum_app_id', name=op.f('uq_app_likes_user_id_quantum_app_id'))
    )
    op.create_index(op.f('ix_app_likes_quantum_app_id'), 'app_likes', ['quantum_app_id'], unique=False)

    op.create_index('ux_app_versions_one_latest', 'app_versions', ['quantum_app_id'], unique=True, postgresql_where=sa.text('is_latest'))

    op.create_index('ix_quantum_apps_search', 'quantum_apps', [sa.literal_column(SEARCH_VECTOR_SQL)], unique=False, postgresql_using='gin')


def downgrade():
    op.drop_index('ix_quantum_apps_search', table_name='quantum_apps')
    op.drop_index('ux_app_versions_one_latest', table_name='app_versions')
    op.drop_index(op.f('ix_app_likes_quantum_app_id'), table_name='app_likes')
    op.drop_table('app_likes')
