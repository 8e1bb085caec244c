"""audit keyed hashes

Events appended from now on are hashed with HMAC under BULKAUTH_AUDIT_KEY; the ones already
in the log keep their plain SHA-256 hashes, so they verify exactly as before. The head records
where keyed hashes start.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyed_from_seq", sa.Integer(), nullable=False, server_default="1")
        )
    op.execute("UPDATE audit_chain_head SET keyed_from_seq = seq + 1")


def downgrade() -> None:
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.drop_column("keyed_from_seq")
