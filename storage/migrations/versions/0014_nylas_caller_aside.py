"""a replica's budget word says whether it takes no share

`nylas_caller.canary` becomes `aside`: besides a replica making only runs' canary calls, one whose
pass ended says so while its last calls are still in Nylas's window. Either way it takes no share
of the budget, and the others leave it the calls it holds.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nylas_caller", schema=None) as batch_op:
        batch_op.alter_column("canary", new_column_name="aside")


def downgrade() -> None:
    with op.batch_alter_table("nylas_caller", schema=None) as batch_op:
        batch_op.alter_column("aside", new_column_name="canary")
