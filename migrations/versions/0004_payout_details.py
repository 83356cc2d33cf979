"""Providers' payout details, encrypted at rest.

users.payout_details holds a Fernet token (portal.core.crypto.EncryptedText): the portal must
read the payout account back to pay providers, so it is encrypted with keys from
QH_ENCRYPTION_KEYS rather than hashed.

Revision ID: 0004_payout
Revises: 0003_marketplace
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_payout"
down_revision = "0003_marketplace"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_details", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("payout_details")
