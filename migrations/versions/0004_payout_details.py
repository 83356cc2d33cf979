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
    op.add_column("users", sa.Column("payout_details", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("users", "payout_details")
