"""grant health

`once_claim`: keys of things done once across replicas and restarts (the health sweep of each
period). `health_snapshot` and `invalid_grant`: each credential's invalid grants at the last
sweep, to show on the App Home and to tell what changed at the next sweep.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "once_claim",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "health_snapshot",
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("credential_id"),
    )
    op.create_table(
        "invalid_grant",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    with op.batch_alter_table("invalid_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invalid_grant_credential_id"), ["credential_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invalid_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invalid_grant_credential_id"))
    op.drop_table("invalid_grant")
    op.drop_table("health_snapshot")
    op.drop_table("once_claim")
