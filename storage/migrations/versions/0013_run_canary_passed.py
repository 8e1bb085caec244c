"""run canary passed

When a run's canary passed and it went wide: a replica that joins the run, or a pass after a
restart, goes wide at once instead of sending a canary of its own.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("canary_passed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_column("canary_passed_at")
