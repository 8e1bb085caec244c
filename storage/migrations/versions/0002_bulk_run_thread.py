"""bulk run thread

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:30:14.460661
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_column("thread_ts")
