"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:45:44.490654
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    chain_head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The chain starts at the genesis hash; storage.audit appends by locking this row.
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "last_hash": "0" * 64}])
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("credential_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_credential_id"), ["credential_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_event_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_event_run_id"), ["run_id"], unique=False)

    op.create_table(
        "credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "nylas_credential_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("credential_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("client_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("private_key_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("project_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("uses_connector_app", sa.Boolean(), nullable=False),
        sa.Column("secret_expires_on", sa.Date(), nullable=True),
        sa.Column("registered_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "registered_by_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nylas_credential_id"),
        sa.UniqueConstraint("provider", "name", name="uq_credential_provider_name"),
    )
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credential_provider"), ["provider"], unique=False)

    op.create_table(
        "bulk_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("skip_existing", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "requested_by_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("approved_by_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("reauthenticated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("message_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("start_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_run_credential_id"), ["credential_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bulk_run_status"), ["status"], unique=False)

    op.create_table(
        "consent_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "requested_by_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consented_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    with op.batch_alter_table("consent_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_request_credential_id"), ["credential_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_request_ready_at"), ["ready_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_request_status"), ["status"], unique=False)

    op.create_table(
        "run_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["bulk_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "email", name="uq_run_item_run_email"),
    )
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_item_email"), ["email"], unique=False)
        batch_op.create_index("ix_run_item_run_status", ["run_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.drop_index("ix_run_item_run_status")
        batch_op.drop_index(batch_op.f("ix_run_item_email"))

    op.drop_table("run_item")
    with op.batch_alter_table("consent_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_request_status"))
        batch_op.drop_index(batch_op.f("ix_consent_request_ready_at"))
        batch_op.drop_index(batch_op.f("ix_consent_request_credential_id"))

    op.drop_table("consent_request")
    with op.batch_alter_table("bulk_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_run_status"))
        batch_op.drop_index(batch_op.f("ix_bulk_run_credential_id"))

    op.drop_table("bulk_run")
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_provider"))

    op.drop_table("credential")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_run_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_email"))
        batch_op.drop_index(batch_op.f("ix_audit_event_credential_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
    op.drop_table("audit_chain_head")
