"""revoke across every credential

`bulk_run.credential_id` may be null: a revocation across every credential the bot knows.
`run_item.credential_id`: the Nylas credential of the grant an item deletes in such a run ("" in
every other run), part of the item's uniqueness, since one mailbox may have a grant of several.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.alter_column("credential_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "credential_id",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                server_default="",
                nullable=False,
            )
        )
        batch_op.drop_constraint("uq_run_item_run_email", type_="unique")
        batch_op.create_unique_constraint(
            "uq_run_item_run_email_credential", ["run_id", "email", "credential_id"]
        )


def downgrade() -> None:
    # A run across every credential has no place in the older schema.
    across = "SELECT id FROM bulk_run WHERE credential_id IS NULL"
    op.execute(f"DELETE FROM run_item WHERE run_id IN ({across})")
    op.execute(f"DELETE FROM run_approval WHERE run_id IN ({across})")
    op.execute("DELETE FROM bulk_run WHERE credential_id IS NULL")
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.drop_constraint("uq_run_item_run_email_credential", type_="unique")
        batch_op.create_unique_constraint("uq_run_item_run_email", ["run_id", "email"])
        batch_op.drop_column("credential_id")
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.alter_column("credential_id", existing_type=sa.Integer(), nullable=False)
