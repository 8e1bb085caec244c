"""where a run's approval request was posted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "approval_channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("approval_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_column("approval_ts")
        batch_op.drop_column("approval_channel_id")
