"""webhooks

The Nylas webhook inbox (unique on the notification id: retries are stored once), grant alerts
(one Slack message per credential and window, edited as counts grow), alert mutes, and an index
on run items' grant ids (a notification names a grant; its credential and run are found by it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", _String(length=128), nullable=False),
        sa.Column("trigger", _String(length=48), nullable=False),
        sa.Column("grant_id", _String(length=64), nullable=True),
        sa.Column("email", _String(length=320), nullable=True),
        sa.Column("provider", _String(length=16), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id"),
    )
    op.create_index("ix_webhook_inbox_processed_at", "webhook_inbox", ["processed_at"])
    op.create_index("ix_webhook_inbox_alert_id", "webhook_inbox", ["alert_id"])
    op.create_table(
        "grant_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_key", _String(length=80), nullable=False),
        sa.Column("credential_name", _String(length=255), nullable=False),
        sa.Column("provider", _String(length=16), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("channel_id", _String(length=32), nullable=True),
        sa.Column("message_ts", _String(length=32), nullable=True),
        sa.Column("claimed_by", _String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grant_alert_credential_key", "grant_alert", ["credential_key"])
    op.create_index("ix_grant_alert_window_end", "grant_alert", ["window_end"])
    op.create_table(
        "alert_mute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_key", _String(length=80), nullable=False),
        sa.Column("muted_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("muted_by", _String(length=64), nullable=False),
        sa.Column("muted_by_name", _String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_key"),
    )
    op.create_index("ix_run_item_grant_id", "run_item", ["grant_id"])


def downgrade() -> None:
    op.drop_index("ix_run_item_grant_id", table_name="run_item")
    op.drop_table("alert_mute")
    op.drop_index("ix_grant_alert_window_end", table_name="grant_alert")
    op.drop_index("ix_grant_alert_credential_key", table_name="grant_alert")
    op.drop_table("grant_alert")
    op.drop_index("ix_webhook_inbox_alert_id", table_name="webhook_inbox")
    op.drop_index("ix_webhook_inbox_processed_at", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
