"""run cancel report

Who cancelled a run (`cancelled_by`: a Slack user id, or `cli:<user>` from the terminal) and when
its end was reported in Slack (`end_reported_at`): a cancel made outside the bot (the CLI) is
reported by the first replica whose scan claims it. Runs already cancelled count as reported.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancelled_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("end_reported_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE bulk_run SET end_reported_at = COALESCE(finished_at, created_at) "
        "WHERE status = 'cancelled'"
    )


def downgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_column("end_reported_at")
        batch_op.drop_column("cancelled_by")
