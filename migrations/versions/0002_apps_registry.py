"""Apps and the Registry: likes, one latest version per app, full-text search.

Beyond 0001, and why:
- app_likes: one row per (user, app) so the registry's like toggle is idempotent and
  app_metrics.registry_likes can be recounted; the unique key stops double likes under races.
- app_versions.ux_app_versions_one_latest: a partial unique index (WHERE is_latest) so the
  database itself guarantees at most one latest version per app, whatever the races.
- quantum_apps.ix_quantum_apps_search (PostgreSQL only): a GIN index over the weighted
  tsvector of name (A), description (B) and README (C). It is an expression index rather than
  a generated tsvector column so SQLite (the embedded default, searched with LIKE) needs no
  column it cannot compute; the registry query uses the identical expression
  (portal.apps.models.SEARCH_VECTOR_SQL) with websearch_to_tsquery, so the planner uses it.

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
    with op.batch_alter_table('app_likes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_likes_quantum_app_id'), ['quantum_app_id'], unique=False)

    with op.batch_alter_table('app_versions', schema=None) as batch_op:
        batch_op.create_index('ux_app_versions_one_latest', ['quantum_app_id'], unique=True, postgresql_where=sa.text('is_latest'), sqlite_where=sa.text('is_latest'))

    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_quantum_apps_search', 'quantum_apps', [sa.literal_column(SEARCH_VECTOR_SQL)], unique=False, postgresql_using='gin')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_quantum_apps_search', table_name='quantum_apps')

    with op.batch_alter_table('app_versions', schema=None) as batch_op:
        batch_op.drop_index('ux_app_versions_one_latest')

    with op.batch_alter_table('app_likes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_likes_quantum_app_id'))

    op.drop_table('app_likes')
