"""SQLModel tables. No column ever holds a private key, a client secret or a token."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_column(*, nullable: bool = True, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(sa.DateTime(timezone=True), nullable=nullable, index=index)


class CredentialRecord(SQLModel, table=True):
    """A Nylas connector credential registered through the bot (identifiers only)."""

    __tablename__ = "credential"
    __table_args__ = (sa.UniqueConstraint("provider", "name", name="uq_credential_provider_name"),)

    id: int | None = Field(default=None, primary_key=True)
    nylas_credential_id: str = Field(max_length=64, unique=True)
    provider: str = Field(max_length=16, index=True)
    credential_type: str = Field(max_length=16)
    name: str = Field(max_length=120)
    client_email: str | None = Field(default=None, max_length=320)
    private_key_id: str | None = Field(default=None, max_length=128)
    project_id: str | None = Field(default=None, max_length=128)
    client_id: str | None = Field(default=None, max_length=64)
    tenant: str | None = Field(default=None, max_length=255)
    uses_connector_app: bool = False
    secret_expires_on: date | None = None
    # When the current client secret (Microsoft) or private key (Google) was given to Nylas:
    # at registration, then at each rotation. None for rows older than this column; the
    # registration time stands in for it (the key was set no later than that).
    secret_set_at: datetime | None = Field(default=None, sa_column=_utc_column())
    registered_by: str = Field(max_length=64)
    registered_by_name: str = Field(max_length=255)
    registered_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    # Deleted at Nylas through the bot: the row stays (runs and the audit name it).
    deleted_at: datetime | None = Field(default=None, sa_column=_utc_column())
    deleted_by: str | None = Field(default=None, max_length=64)


class CredentialReminder(SQLModel, table=True):
    """One expiry reminder of a credential, claimed by the replica that posts it: the unique
    (credential, threshold) pair makes each threshold fire once across restarts and replicas.
    A threshold names its deadline (`secret:2027-01-31T00:00:7d`), so a rotation starts anew."""

    __tablename__ = "credential_reminder"
    __table_args__ = (
        sa.UniqueConstraint("credential_id", "threshold", name="uq_credential_reminder_threshold"),
    )

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    threshold: str = Field(max_length=64)
    sent_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class ConsentStatus(StrEnum):
    PENDING = "pending"
    CONSENTED = "consented"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ConsentRequest(SQLModel, table=True):
    """One Microsoft admin-consent link; its state nonce is stored only as a hash."""

    __tablename__ = "consent_request"

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(foreign_key="credential.id", index=True)
    status: str = Field(default=ConsentStatus.PENDING, max_length=16, index=True)
    state_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    requested_by: str = Field(max_length=64)
    requested_by_name: str = Field(max_length=255)
    channel_id: str = Field(max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))
    consented_at: datetime | None = Field(default=None, sa_column=_utc_column())
    consented_by: str | None = Field(default=None, max_length=128)
    ready_at: datetime | None = Field(default=None, sa_column=_utc_column(index=True))
    reminded_at: datetime | None = Field(default=None, sa_column=_utc_column())
    failed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


class RunStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    WAITING_FOR_CONSENT = "waiting_for_consent"
    RUNNING = "running"
    HELD = "held"  # stopped by its canary or circuit breaker until someone resumes or cancels
    CANCELLED = "cancelled"
    FINISHED = "finished"
    EXPIRED = "expired"  # nobody decided within BULKAUTH_APPROVAL_TTL_HOURS


class RequestKind(StrEnum):
    """What a request asks for: the approval policy differs by kind (destructive kinds always
    need two approvers when BULKAUTH_TWO_APPROVALS_FOR_DESTRUCTIVE is on)."""

    GRANT = "grant"
    REAUTHENTICATE = "reauthenticate"
    REVOKE = "revoke"
    DELETE_CREDENTIAL = "delete_credential"


DESTRUCTIVE_KINDS = frozenset({RequestKind.REVOKE, RequestKind.DELETE_CREDENTIAL})


class BulkRun(SQLModel, table=True):
    """One bulk grant-creation request, from approval to its end."""

    __tablename__ = "bulk_run"

    id: int | None = Field(default=None, primary_key=True)
    # None: a revocation across every credential (each item names its grant's credential).
    credential_id: int | None = Field(default=None, foreign_key="credential.id", index=True)
    provider: str = Field(max_length=16)
    scopes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    skip_existing: bool = True
    status: str = Field(default=RunStatus.AWAITING_APPROVAL, max_length=24, index=True)
    requested_by: str = Field(max_length=64)
    requested_by_name: str = Field(max_length=255)
    approved_by: str | None = Field(default=None, max_length=64)
    approved_by_name: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_column=_utc_column())
    rejection_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    # The approval policy's facts, fixed when the request is written.
    kind: str = Field(default=RequestKind.GRANT, max_length=24)
    credential_name: str = Field(default="", max_length=120)
    reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    approvals_required: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # What the plan was based on (credential and consent) and which users it is for: an
    # approval is refused when either changed since (a stale approval).
    basis: str = Field(default="", max_length=64)
    users_digest: str = Field(default="", max_length=64, index=True)
    remind_at: datetime | None = Field(default=None, sa_column=_utc_column())
    reminded_at: datetime | None = Field(default=None, sa_column=_utc_column())
    expires_at: datetime | None = Field(default=None, sa_column=_utc_column(index=True))
    total: int = 0
    created: int = 0
    reauthenticated: int = 0
    skipped: int = 0
    failed: int = 0
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)  # where the CSV goes
    # The approval request's message: a decision counts only when clicked there.
    approval_channel_id: str | None = Field(default=None, max_length=32)
    approval_ts: str | None = Field(default=None, max_length=32)
    start_after: datetime | None = Field(default=None, sa_column=_utc_column())
    # Why a held run stopped: the problem's code (or the raw error) and how many users it hit.
    hold_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    hold_count: int | None = None
    # Who cancelled (a Slack user id or `cli:<user>`), and when the end was told in Slack: a
    # cancel from the terminal is reported by the first replica whose scan claims it.
    cancelled_by: str | None = Field(default=None, max_length=64)
    end_reported_at: datetime | None = Field(default=None, sa_column=_utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())


class RunApproval(SQLModel, table=True):
    """One approver's approval of a request; a person approves a request at most once."""

    __tablename__ = "run_approval"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "approver_id", name="uq_run_approval_run_approver"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="bulk_run.id", index=True)
    approver_id: str = Field(max_length=64)
    approver_name: str = Field(max_length=255)
    approved_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class ItemStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    CREATED = "created"
    REAUTHENTICATED = "reauthenticated"
    SKIPPED = "skipped"
    FAILED = "failed"
    REVOKED = "revoked"  # a revocation run deleted the grant (or Nylas no longer had it)


# In the order every count of a run is shown (progress, summary, Home, CLI, audit details).
FINISHED_ITEM_STATUSES = (
    ItemStatus.CREATED,
    ItemStatus.REAUTHENTICATED,
    ItemStatus.SKIPPED,
    ItemStatus.FAILED,
    ItemStatus.REVOKED,
)
SENT_ITEM_STATUSES = (
    ItemStatus.CREATED,
    ItemStatus.REAUTHENTICATED,
    ItemStatus.FAILED,
    ItemStatus.REVOKED,
)
UNSENT_ITEM_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_PROGRESS)


class RunItem(SQLModel, table=True):
    """One mailbox of a run. Workers claim pending items with row locks (SKIP LOCKED)."""

    __tablename__ = "run_item"
    __table_args__ = (
        # One item per mailbox, or per mailbox and credential in a revocation across every
        # credential (a mailbox may have a grant of several).
        sa.UniqueConstraint(
            "run_id", "email", "credential_id", name="uq_run_item_run_email_credential"
        ),
        sa.Index("ix_run_item_run_status", "run_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="bulk_run.id")
    email: str = Field(max_length=320, index=True)
    status: str = Field(default=ItemStatus.PENDING, max_length=16)
    grant_id: str | None = Field(default=None, max_length=64, index=True)
    # The grant's Nylas credential id in a revocation across every credential, else "".
    credential_id: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    problem: str | None = Field(default=None, max_length=48)  # bot.nylas.problems code, if known
    request_id: str | None = Field(default=None, max_length=128)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())


class AuditEvent(SQLModel, table=True):
    """One audit event; `hash` covers its canonical content and its predecessor's hash."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: datetime = Field(sa_column=_utc_column(nullable=False, index=True))
    actor_id: str = Field(max_length=128, index=True)
    actor_name: str = Field(max_length=255)
    action: str = Field(max_length=48, index=True)
    outcome: str = Field(default="ok", max_length=32)
    credential_id: str | None = Field(default=None, max_length=64, index=True)
    email: str | None = Field(default=None, max_length=320, index=True)
    grant_id: str | None = Field(default=None, max_length=64)
    run_id: int | None = Field(default=None, index=True)
    request_id: str | None = Field(default=None, max_length=128)
    details: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """A single row: the last sequence number and hash. Writers lock it to append in order.
    Events from `keyed_from_seq` on are HMAC-keyed; earlier ones (written before keys existed)
    keep their plain SHA-256 hashes and verify as such."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    last_hash: str = Field(max_length=64)
    keyed_from_seq: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class OnceClaim(SQLModel, table=True):
    """Something that must happen once across replicas and restarts (`storage/once.py`): the
    first to insert its key does it; the others meet the primary key."""

    __tablename__ = "once_claim"

    key: str = Field(primary_key=True, max_length=128)
    claimed_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    claimed_by: str = Field(max_length=64)


class NylasCaller(SQLModel, table=True):
    """What one replica calling Nylas for runs may hold of the application's budget until its
    next word (`storage/callers.py`): the others keep the budget but for what a replica that
    takes no share holds, and one that joins takes the room they leave
    (bot/runs/execution/budget.py)."""

    __tablename__ = "nylas_caller"

    worker_id: str = Field(primary_key=True, max_length=64)
    holds: int  # the most calls it may have in Nylas's one-second window
    # it takes no share: it makes nothing but runs' canary calls, or its pass ended and its
    # last calls are still in the window. The column keeps its first name, `canary`: replicas
    # still on older code read it during a rolling upgrade, with the same meaning to them.
    aside: bool = Field(
        default=False, sa_column=sa.Column("canary", sa.Boolean(), nullable=False, default=False)
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class HealthSnapshot(SQLModel, table=True):
    """A credential's invalid grants at the last sweep (the App Home shows these, never a live
    Nylas call)."""

    __tablename__ = "health_snapshot"

    credential_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("credential.id", ondelete="CASCADE"), primary_key=True
        )
    )
    swept_at: datetime = Field(sa_column=_utc_column(nullable=False))
    invalid: int = 0


class InvalidGrant(SQLModel, table=True):
    """One grant Nylas marked invalid at the last sweep, by credential: the next sweep compares
    with these to tell what became invalid and what recovered."""

    __tablename__ = "invalid_grant"

    grant_id: str = Field(primary_key=True, max_length=64)
    credential_id: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("credential.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    email: str | None = Field(default=None, max_length=320)
    first_seen_at: datetime = Field(sa_column=_utc_column(nullable=False))


class WebhookNotification(SQLModel, table=True):
    """A Nylas webhook notification, written before the answer (so a crash loses nothing) and
    unique on Nylas's notification id (so Nylas's retries are stored once). The processor marks
    it processed in the same transaction that audits it."""

    __tablename__ = "webhook_inbox"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=128, unique=True)
    trigger: str = Field(max_length=48)
    grant_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    provider: str | None = Field(default=None, max_length=16)
    occurred_at: datetime = Field(sa_column=_utc_column(nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    payload: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=_utc_column(index=True))
    alert_id: int | None = Field(default=None, index=True)


class GrantAlert(SQLModel, table=True):
    """One alert message: grant events of one credential within one window. Counts grow as the
    processor folds events in; the publisher edits the message when `shown` lags behind."""

    __tablename__ = "grant_alert"

    id: int | None = Field(default=None, primary_key=True)
    credential_key: str = Field(max_length=80, index=True)  # a Nylas credential id, or domain:…
    credential_name: str = Field(max_length=255)
    provider: str | None = Field(default=None, max_length=16)
    window_start: datetime = Field(sa_column=_utc_column(nullable=False))
    window_end: datetime = Field(sa_column=_utc_column(nullable=False, index=True))
    expired: int = 0
    deleted: int = 0
    total: int = 0
    shown: int = 0  # the total the Slack message shows
    muted: bool = False  # created while its credential's alerts were muted: never posted
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    edited_at: datetime | None = Field(default=None, sa_column=_utc_column())


class AlertMute(SQLModel, table=True):
    """Alerts of a credential muted until a time, by someone (events are still audited)."""

    __tablename__ = "alert_mute"

    id: int | None = Field(default=None, primary_key=True)
    credential_key: str = Field(max_length=80, unique=True)
    muted_until: datetime = Field(sa_column=_utc_column(nullable=False))
    muted_by: str = Field(max_length=64)
    muted_by_name: str = Field(max_length=255)
