"""Initial schema: the seed's tables plus what the product needs beyond them.

Beyond the seed, and why:
- project_files: a project's source files, edited in the IDE and packaged on build.
- app_tags: apps carry many tags and a tag labels many apps (filters on the registry).
- payment_events: each payment-provider event id is recorded once so replays do nothing.
- users: email_verified_at (verification), preferences (time zone, defaults, e-mail
  choices), monthly_budget (spending control).
- user_api_keys/subscription_keys: prefix (keys are stored hashed; the prefix tells them
  apart), scopes; user_sessions: kind and last_seen_at (the sessions page).
- jobs: user_id, hardware_id, app_version_id, program, inputs, shots, state timestamps,
  failure_reason and attempts (the reconciler and the job page); subscription_id nullable
  because a user's own circuits belong to no subscription.
- app_versions: entry_program, yank_reason, published_at, package_sha256.
- marketplace_listings: offered subscription types and trial limits; subscriptions: the
  payment provider's references; hardware: backend_config and per-shot/per-job prices.
- billing: the period a bill covers, its currency and closing time; items link to jobs.
- usage_analytics: quantum_app_id nullable (own circuits) with a unique upsert key.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hardware',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('technology_type', sa.Enum('SIMULATOR', 'SUPERCONDUCTING', 'TRAPPED_ION', 'NEUTRAL_ATOM', 'PHOTONIC', 'SPIN_QUBIT', name='hardwaretechnology', native_enum=False, length=32), nullable=False),
    sa.Column('platform', sa.Enum('AER', 'IBM_QUANTUM', 'AMAZON_BRAKET', 'AZURE_QUANTUM', 'IONQ', 'RIGETTI', 'QUANTINUUM', 'OTHER', name='hardwareplatform', native_enum=False, length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('ONLINE', 'OFFLINE', 'MAINTENANCE', 'RETIRED', name='hardwarestatus', native_enum=False, length=32), nullable=False),
    sa.Column('qubits', sa.Integer(), nullable=True),
    sa.Column('connectivity_map', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('gate_set', postgresql.ARRAY(sa.String()), nullable=True),
    sa.Column('average_queue_time', sa.Integer(), nullable=True),
    sa.Column('cost_per_hour', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('documentation_url', sa.String(length=255), nullable=True),
    sa.Column('backend_config', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('cost_per_shot', sa.Numeric(precision=12, scale=6), nullable=True),
    sa.Column('cost_per_job', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('min_shots', sa.Integer(), nullable=False),
    sa.Column('max_shots', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hardware')),
    sa.UniqueConstraint('name', name=op.f('uq_hardware_name'))
    )
    op.create_index(op.f('ix_hardware_status'), 'hardware', ['status'], unique=False)

    op.create_table('payment_events',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_payment_events_event_id'))
    )
    op.create_table('tags',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_tags_name'))
    )
    op.create_table('users',
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('email', sa.String(length=100), nullable=False),
    sa.Column('hashed_password', sa.String(length=255), nullable=False),
    sa.Column('full_name', sa.String(length=100), nullable=True),
    sa.Column('roles', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_provider', sa.Boolean(), nullable=False),
    sa.Column('last_login', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preferences', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('monthly_budget', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_index(op.f('ix_users_email'), 'users', ['email'], unique=True)
    op.create_index(op.f('ix_users_username'), 'users', ['username'], unique=True)

    op.create_table('notifications',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('type', sa.Enum('INFO', 'SUCCESS', 'WARNING', 'ERROR', 'JOB', 'SUBSCRIPTION', 'PAYMENT', 'REVIEW', 'BUDGET', name='notificationtype', native_enum=False, length=32), nullable=False),
    sa.Column('read', sa.Boolean(), nullable=False),
    sa.Column('link', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index('ix_notifications_user_id_read_created_at', 'notifications', ['user_id', 'read', 'created_at'], unique=False)

    op.create_table('quantum_apps',
    sa.Column('developer_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('type', sa.Enum('CIRCUIT', 'ALGORITHM', 'HYBRID', 'LIBRARY', 'SERVICE', name='apptype', native_enum=False, length=32), nullable=False),
    sa.Column('status', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('visibility', sa.Enum('PRIVATE', 'UNLISTED', 'PUBLIC', name='appvisibility', native_enum=False, length=32), nullable=False),
    sa.Column('latest_version_id', sa.Uuid(), nullable=True),
    sa.Column('api_url', sa.String(length=255), nullable=True),
    sa.Column('documentation_url', sa.String(length=255), nullable=True),
    sa.Column('license_type', sa.Enum('MIT', 'APACHE_2_0', 'BSD_3_CLAUSE', 'GPL_3_0', 'LGPL_3_0', 'MPL_2_0', 'PROPRIETARY', 'OTHER', name='licensetype', native_enum=False, length=32), nullable=True),
    sa.Column('license_url', sa.String(length=255), nullable=True),
    sa.Column('readme_content', sa.Text(), nullable=True),
    sa.Column('repository_url', sa.String(length=255), nullable=True),
    sa.Column('is_in_registry', sa.Boolean(), nullable=False),
    sa.Column('registry_published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('featured_in_registry', sa.Boolean(), nullable=False),
    sa.Column('registry_download_count', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['developer_id'], ['users.id'], name=op.f('fk_quantum_apps_developer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quantum_apps'))
    )
    op.create_index('ix_quantum_apps_created_at', 'quantum_apps', ['created_at'], unique=False)
    op.create_index('ix_quantum_apps_developer_id', 'quantum_apps', ['developer_id'], unique=False)
    op.create_index('ix_quantum_apps_name', 'quantum_apps', ['name'], unique=False)
    op.create_index('ix_quantum_apps_registry', 'quantum_apps', ['is_in_registry', 'visibility'], unique=False)

    op.create_table('user_api_keys',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scopes', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('status', sa.Enum('ACTIVE', 'REVOKED', 'EXPIRED', name='apikeystatus', native_enum=False, length=32), nullable=False),
    sa.Column('rate_limit', sa.String(length=50), nullable=True),
    sa.Column('expire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_api_keys'))
    )
    op.create_index(op.f('ix_user_api_keys_user_id'), 'user_api_keys', ['user_id'], unique=False)
    op.create_index(op.f('ix_user_api_keys_value'), 'user_api_keys', ['value'], unique=True)

    op.create_table('user_bills',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('pending_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('billing_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_status', sa.String(length=50), nullable=True),
    sa.Column('invoice_url', sa.String(length=255), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_bills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_bills')),
    sa.UniqueConstraint('user_id', 'period_start', name=op.f('uq_user_bills_user_id_period_start'))
    )
    op.create_index('ix_user_bills_user_id_billing_date', 'user_bills', ['user_id', 'billing_date'], unique=False)

    op.create_table('user_profiles',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('organization', sa.String(length=100), nullable=True),
    sa.Column('bio', sa.Text(), nullable=True),
    sa.Column('avatar_url', sa.String(length=255), nullable=True),
    sa.Column('contact_info', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('social_links', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_profiles')),
    sa.UniqueConstraint('user_id', name=op.f('uq_user_profiles_user_id'))
    )
    op.create_table('user_sessions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token', sa.String(length=255), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip_address', sa.String(length=50), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token', name=op.f('uq_user_sessions_token'))
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)

    op.create_table('app_metrics',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('downloads', sa.Integer(), nullable=False),
    sa.Column('registry_likes', sa.Integer(), nullable=False),
    sa.Column('marketplace_likes', sa.Integer(), nullable=False),
    sa.Column('number_of_subscriptions', sa.Integer(), nullable=False),
    sa.Column('average_rating', sa.Float(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_app_metrics_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_metrics')),
    sa.UniqueConstraint('quantum_app_id', name=op.f('uq_app_metrics_quantum_app_id'))
    )
    op.create_table('app_tags',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('tag_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_app_tags_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_app_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('quantum_app_id', 'tag_id', name=op.f('pk_app_tags'))
    )
    op.create_index('ix_app_tags_tag_id', 'app_tags', ['tag_id'], unique=False)

    op.create_table('app_versions',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('version_number', sa.String(length=20), nullable=False),
    sa.Column('sdk_used', sa.Enum('OPENQASM2', 'OPENQASM3', 'QISKIT', 'CIRQ', 'PENNYLANE', 'BRAKET', 'OTHER', name='sdktype', native_enum=False, length=32), nullable=False),
    sa.Column('input_schema', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('output_schema', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('built_on_quantum_sdk_version', sa.String(length=50), nullable=True),
    sa.Column('preferred_platform', sa.String(length=50), nullable=True),
    sa.Column('preferred_device_id', sa.String(length=50), nullable=True),
    sa.Column('number_of_qubits', sa.Integer(), nullable=True),
    sa.Column('average_execution_time', sa.String(length=50), nullable=True),
    sa.Column('source_repo', sa.String(length=255), nullable=True),
    sa.Column('source_commit_hash', sa.String(length=100), nullable=True),
    sa.Column('package_path', sa.String(length=255), nullable=True),
    sa.Column('package_data', sa.LargeBinary(), nullable=True),
    sa.Column('ir_type', sa.String(length=50), nullable=True),
    sa.Column('ir_path', sa.String(length=255), nullable=True),
    sa.Column('resource_estimate', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('cost_estimate', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('benchmark_results', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('finetune_params', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('validation_results', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('security_scan_results', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('release_notes', sa.Text(), nullable=True),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('DRAFT', 'PUBLISHED', 'DEPRECATED', 'YANKED', name='versionstatus', native_enum=False, length=32), nullable=False),
    sa.Column('entry_program', sa.Text(), nullable=True),
    sa.Column('yank_reason', sa.String(length=255), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('package_sha256', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_app_versions_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_versions')),
    sa.UniqueConstraint('quantum_app_id', 'version_number', name=op.f('uq_app_versions_quantum_app_id_version_number'))
    )
    op.create_index(op.f('ix_app_versions_quantum_app_id'), 'app_versions', ['quantum_app_id'], unique=False)

    # quantum_apps.latest_version_id and app_versions.quantum_app_id point at each other,
    # so this key is added once both tables exist (and dropped first on the way down).
    op.create_foreign_key(op.f('fk_quantum_apps_latest_version_id_app_versions'), 'quantum_apps', 'app_versions', ['latest_version_id'], ['id'], ondelete='SET NULL')


    op.create_table('documentation',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('order', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_documentation_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documentation'))
    )
    op.create_index('ix_documentation_app_order', 'documentation', ['quantum_app_id', 'order'], unique=False)

    op.create_table('marketplace_listings',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('listed_by', sa.Uuid(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.Enum('DRAFT', 'ACTIVE', 'PAUSED', 'DELISTED', name='marketplacelistingstatus', native_enum=False, length=32), nullable=False),
    sa.Column('rating', sa.Float(), nullable=False),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('preview_enabled', sa.Boolean(), nullable=False),
    sa.Column('support_email', sa.String(length=100), nullable=True),
    sa.Column('support_url', sa.String(length=255), nullable=True),
    sa.Column('subscription_types', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('trial_usage_limit', sa.Integer(), nullable=False),
    sa.Column('trial_days', sa.Integer(), nullable=False),
    sa.Column('paid_usage_limit', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['listed_by'], ['users.id'], name=op.f('fk_marketplace_listings_listed_by_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_marketplace_listings_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marketplace_listings')),
    sa.UniqueConstraint('quantum_app_id', name=op.f('uq_marketplace_listings_quantum_app_id'))
    )
    op.create_index('ix_marketplace_listings_status_rating', 'marketplace_listings', ['status', 'rating'], unique=False)

    op.create_table('projects',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('quantum_app_id', sa.Uuid(), nullable=True),
    sa.Column('repo', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_projects_quantum_app_id_quantum_apps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_projects_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_index('ix_projects_user_id_updated_at', 'projects', ['user_id', 'updated_at'], unique=False)

    op.create_table('reviews',
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rating >= 1 AND rating <= 5', name=op.f('ck_reviews_rating_range')),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_reviews_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reviews_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('quantum_app_id', 'user_id', name=op.f('uq_reviews_quantum_app_id_user_id'))
    )
    op.create_index(op.f('ix_reviews_user_id'), 'reviews', ['user_id'], unique=False)

    op.create_table('subscriptions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('quantum_app_id', sa.Uuid(), nullable=False),
    sa.Column('subscription_type', sa.Enum('TRIAL', 'MONTHLY', 'ANNUAL', 'PAY_AS_YOU_GO', name='subscriptiontype', native_enum=False, length=32), nullable=False),
    sa.Column('start_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Enum('PENDING', 'ACTIVE', 'PAST_DUE', 'CANCELLED', 'EXPIRED', name='subscriptionstatus', native_enum=False, length=32), nullable=False),
    sa.Column('service_uri', sa.String(length=255), nullable=True),
    sa.Column('rate', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=100), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=100), nullable=True),
    sa.Column('checkout_session_id', sa.String(length=200), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_subscriptions_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    op.create_index(op.f('ix_subscriptions_checkout_session_id'), 'subscriptions', ['checkout_session_id'], unique=False)
    op.create_index('ix_subscriptions_quantum_app_id', 'subscriptions', ['quantum_app_id'], unique=False)
    op.create_index(op.f('ix_subscriptions_stripe_subscription_id'), 'subscriptions', ['stripe_subscription_id'], unique=False)
    op.create_index('ix_subscriptions_user_id_status', 'subscriptions', ['user_id', 'status'], unique=False)

    op.create_table('usage_analytics',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('quantum_app_id', sa.Uuid(), nullable=True),
    sa.Column('endpoint', sa.String(length=255), nullable=False),
    sa.Column('request_count', sa.Integer(), nullable=False),
    sa.Column('compute_time_seconds', sa.Float(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['quantum_app_id'], ['quantum_apps.id'], name=op.f('fk_usage_analytics_quantum_app_id_quantum_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_usage_analytics_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_analytics'))
    )
    op.create_index('ix_usage_analytics_app_date', 'usage_analytics', ['quantum_app_id', 'date'], unique=False)
    op.create_index('ix_usage_analytics_key', 'usage_analytics', ['user_id', 'quantum_app_id', 'endpoint', 'date'], unique=True)

    op.create_table('jobs',
    sa.Column('subscription_id', sa.Uuid(), nullable=True),
    sa.Column('platform', sa.String(length=50), nullable=False),
    sa.Column('device_id', sa.String(length=50), nullable=True),
    sa.Column('run_mode', sa.Enum('BLOCKING', 'ASYNC', name='jobrunmode', native_enum=False, length=32), nullable=False),
    sa.Column('scaling_config', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('platform_job_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.Enum('PROVISIONING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', name='jobstatus', native_enum=False, length=32), nullable=False),
    sa.Column('results_storage_path', sa.String(length=255), nullable=True),
    sa.Column('notification_email', sa.String(length=100), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String()), nullable=True),
    sa.Column('estimated_cost', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('actual_cost', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('hardware_id', sa.Uuid(), nullable=True),
    sa.Column('app_version_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('program_format', sa.String(length=10), nullable=True),
    sa.Column('program_source', sa.Text(), nullable=True),
    sa.Column('inputs', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shots', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_version_id'], ['app_versions.id'], name=op.f('fk_jobs_app_version_id_app_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hardware_id'], ['hardware.id'], name=op.f('fk_jobs_hardware_id_hardware'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_jobs_subscription_id_subscriptions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_jobs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index('ix_jobs_status_updated_at', 'jobs', ['status', 'updated_at'], unique=False)
    op.create_index('ix_jobs_subscription_id', 'jobs', ['subscription_id'], unique=False)
    op.create_index('ix_jobs_user_id_created_at', 'jobs', ['user_id', 'created_at'], unique=False)

    op.create_table('project_files',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_files_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_files')),
    sa.UniqueConstraint('project_id', 'path', name=op.f('uq_project_files_project_id_path'))
    )
    op.create_index(op.f('ix_project_files_project_id'), 'project_files', ['project_id'], unique=False)

    op.create_table('subscription_keys',
    sa.Column('subscription_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('type', sa.Enum('TRIAL', 'MONTHLY', 'ANNUAL', 'PAY_AS_YOU_GO', name='subscriptiontype', native_enum=False, length=32), nullable=False),
    sa.Column('remaining_usage_count', sa.Integer(), nullable=True),
    sa.Column('rate_limit', sa.String(length=50), nullable=True),
    sa.Column('status', sa.Enum('ACTIVE', 'REVOKED', 'EXPIRED', name='apikeystatus', native_enum=False, length=32), nullable=False),
    sa.Column('expire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_keys_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_keys')),
    sa.UniqueConstraint('value', name=op.f('uq_subscription_keys_value'))
    )
    op.create_index(op.f('ix_subscription_keys_subscription_id'), 'subscription_keys', ['subscription_id'], unique=False)

    op.create_table('billing_items',
    sa.Column('bill_id', sa.Uuid(), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Uuid(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=6), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['user_bills.id'], name=op.f('fk_billing_items_bill_id_user_bills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_billing_items_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_billing_items_subscription_id_subscriptions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_items')),
    sa.UniqueConstraint('job_id', name=op.f('uq_billing_items_job_id'))
    )
    op.create_index(op.f('ix_billing_items_bill_id'), 'billing_items', ['bill_id'], unique=False)

    op.create_table('job_results',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('status', sa.String(length=50), nullable=True),
    sa.Column('execution_time', sa.Float(), nullable=True),
    sa.Column('result_data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_results_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_results')),
    sa.UniqueConstraint('job_id', name=op.f('uq_job_results_job_id'))
    )


def downgrade():
    op.drop_constraint(op.f('fk_quantum_apps_latest_version_id_app_versions'), 'quantum_apps', type_='foreignkey')
    op.drop_table('job_results')

    op.drop_index(op.f('ix_billing_items_bill_id'), table_name='billing_items')
    op.drop_table('billing_items')

    op.drop_index(op.f('ix_subscription_keys_subscription_id'), table_name='subscription_keys')
    op.drop_table('subscription_keys')

    op.drop_index(op.f('ix_project_files_project_id'), table_name='project_files')
    op.drop_table('project_files')

    op.drop_index('ix_jobs_user_id_created_at', table_name='jobs')
    op.drop_index('ix_jobs_subscription_id', table_name='jobs')
    op.drop_index('ix_jobs_status_updated_at', table_name='jobs')
    op.drop_table('jobs')

    op.drop_index('ix_usage_analytics_key', table_name='usage_analytics')
    op.drop_index('ix_usage_analytics_app_date', table_name='usage_analytics')
    op.drop_table('usage_analytics')

    op.drop_index('ix_subscriptions_user_id_status', table_name='subscriptions')
    op.drop_index(op.f('ix_subscriptions_stripe_subscription_id'), table_name='subscriptions')
    op.drop_index('ix_subscriptions_quantum_app_id', table_name='subscriptions')
    op.drop_index(op.f('ix_subscriptions_checkout_session_id'), table_name='subscriptions')
    op.drop_table('subscriptions')

    op.drop_index(op.f('ix_reviews_user_id'), table_name='reviews')
    op.drop_table('reviews')

    op.drop_index('ix_projects_user_id_updated_at', table_name='projects')
    op.drop_table('projects')

    op.drop_index('ix_marketplace_listings_status_rating', table_name='marketplace_listings')
    op.drop_table('marketplace_listings')

    op.drop_index('ix_documentation_app_order', table_name='documentation')
    op.drop_table('documentation')

    op.drop_index(op.f('ix_app_versions_quantum_app_id'), table_name='app_versions')
    op.drop_table('app_versions')

    op.drop_index('ix_app_tags_tag_id', table_name='app_tags')
    op.drop_table('app_tags')
    op.drop_table('app_metrics')

    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_table('user_profiles')

    op.drop_index('ix_user_bills_user_id_billing_date', table_name='user_bills')
    op.drop_table('user_bills')

    op.drop_index(op.f('ix_user_api_keys_value'), table_name='user_api_keys')
    op.drop_index(op.f('ix_user_api_keys_user_id'), table_name='user_api_keys')
    op.drop_table('user_api_keys')

    op.drop_index('ix_quantum_apps_registry', table_name='quantum_apps')
    op.drop_index('ix_quantum_apps_name', table_name='quantum_apps')
    op.drop_index('ix_quantum_apps_developer_id', table_name='quantum_apps')
    op.drop_index('ix_quantum_apps_created_at', table_name='quantum_apps')
    op.drop_table('quantum_apps')

    op.drop_index('ix_notifications_user_id_read_created_at', table_name='notifications')
    op.drop_table('notifications')

    op.drop_index(op.f('ix_users_username'), table_name='users')
    op.drop_index(op.f('ix_users_email'), table_name='users')
    op.drop_table('users')
    op.drop_table('tags')
    op.drop_table('payment_events')

    op.drop_index(op.f('ix_hardware_status'), table_name='hardware')
    op.drop_table('hardware')
