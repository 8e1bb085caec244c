"""credential rotation

When a credential's current secret or key was set (`credential.secret_set_at`; unknown, so NULL,
for credentials registered before), and the expiry reminders each replica claims before it
posts one (`credential_reminder`, one row per credential and threshold).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_set_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "credential_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id", "threshold", name="uq_credential_reminder_threshold"),
    )
    op.create_index(
        op.f("ix_credential_reminder_credential_id"),
        "credential_reminder",
        ["credential_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credential_reminder_credential_id"), table_name="credential_reminder")
    op.drop_table("credential_reminder")
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_column("secret_set_at")
