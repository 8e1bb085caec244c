"""what each replica calling Nylas holds of the budget

`nylas_caller`: one row per replica calling Nylas beside others, the most calls it may have in
Nylas's window and whether it makes only runs' canary calls: the others keep the budget but for
those, and a replica that joins takes the room the others leave.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nylas_caller",
        sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("holds", sa.Integer(), nullable=False),
        sa.Column("canary", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )


def downgrade() -> None:
    op.drop_table("nylas_caller")
