"""run hold

Why a held run stopped (its canary or circuit breaker), and each failure's known problem.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("hold_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("problem", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.drop_column("problem")
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_column("hold_count")
        batch_op.drop_column("hold_reason")
