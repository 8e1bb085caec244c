"""approval policy

The request's kind, reason, credential name, approvals required, basis (for stale approvals),
users digest, reminder and expiry times on bulk_run; one row per approval in run_approval.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:10:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sqlmodel.sql.sqltypes.AutoString(length=24),
                nullable=False,
                server_default="grant",
            )
        )
        batch_op.add_column(
            sa.Column(
                "credential_name",
                sqlmodel.sql.sqltypes.AutoString(length=120),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("approvals_required", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column(
                "basis",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "users_digest",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_bulk_run_users_digest", ["users_digest"], unique=False)
        batch_op.create_index("ix_bulk_run_expires_at", ["expires_at"], unique=False)
    op.execute(
        "UPDATE bulk_run SET credential_name = (SELECT name FROM credential "
        "WHERE credential.id = bulk_run.credential_id)"
    )
    # Requests already awaiting approval get the default time limit from now on, so the sweep
    # expires them like any other instead of leaving them waiting forever.
    bulk_run = sa.table(
        "bulk_run",
        sa.column("status", sa.String()),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        bulk_run.update()
        .where(bulk_run.c.status == "awaiting_approval")
        .where(bulk_run.c.expires_at.is_(None))
        .values(expires_at=datetime.now(UTC) + timedelta(hours=24))
    )
    op.create_table(
        "run_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("approver_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["bulk_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "approver_id", name="uq_run_approval_run_approver"),
    )
    op.create_index("ix_run_approval_run_id", "run_approval", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_approval_run_id", table_name="run_approval")
    op.drop_table("run_approval")
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_run_expires_at")
        batch_op.drop_index("ix_bulk_run_users_digest")
        for column in (
            "expires_at",
            "reminded_at",
            "remind_at",
            "users_digest",
            "basis",
            "approvals_required",
            "reason",
            "credential_name",
            "kind",
        ):
            batch_op.drop_column(column)
