"""The append-only, hash-chained audit log. There is deliberately no update or delete here.

Each event's hash is an HMAC, under the audit key (storage/audit_key.py), of its canonical
content and its predecessor's hash; events older than keys (before `keyed_from_seq`) keep their
plain SHA-256 hashes. Appending locks the single chain-head row first, so concurrent writers
(several processes on PostgreSQL) append one after another and the chain stays linear.

The chain alone cannot show that its end was cut off or that it was replaced as a whole; the
bot's anchors (bot/anchors.py) record the head outside the database, and `check_anchors` holds
the log against them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from storage.audit_key import SESSION_INFO_KEY, AuditKey, AuditKeyMissing
from storage.models import AuditChainHead, AuditEvent, BulkRun, CredentialRecord, as_utc, utcnow

GENESIS_HASH = "0" * 64
CLI_ACTOR_PREFIX = "cli:"  # actor ids of people using the command line: cli:<os user>
_FORBIDDEN_DETAIL_KEYS = ("secret", "private_key", "password", "token", "api_key")


class AuditAction(StrEnum):
    CREDENTIAL_REGISTERED = "credential.registered"
    CREDENTIAL_REGISTRATION_FAILED = "credential.registration_failed"
    CREDENTIAL_ROTATED = "credential.rotated"
    CREDENTIAL_REMINDER_SENT = "credential.reminder_sent"
    CONSENT_LINK_ISSUED = "consent.link_issued"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_FAILED = "consent.failed"
    CONSENT_CALLBACK_REJECTED = "consent.callback_rejected"
    CONSENT_REMINDER_SENT = "consent.reminder_sent"
    RUN_REQUESTED = "run.requested"
    RUN_APPROVED = "run.approved"
    RUN_REJECTED = "run.rejected"
    RUN_STARTED = "run.started"
    RUN_FINISHED = "run.finished"
    RUN_CANCELLED = "run.cancelled"
    RUN_HELD = "run.held"
    RUN_RESUMED = "run.resumed"
    RUN_EXPIRED = "run.expired"
    RUN_REMINDED = "run.reminded"
    GRANT_CREATED = "grant.created"
    GRANT_REAUTHENTICATED = "grant.reauthenticated"
    GRANT_FAILED = "grant.failed"
    GRANT_SKIPPED = "grant.skipped"
    GRANT_REVOKED = "grant.revoked"
    CREDENTIAL_DELETED = "credential.deleted"
    GRANT_FOUND_INVALID = "grant.found_invalid"  # the health sweep found it invalid
    GRANT_RECOVERED = "grant.recovered"  # invalid at the last sweep, not any more
    HEALTH_SWEPT = "health.swept"
    ACCESS_DENIED = "access.denied"
    INPUT_REJECTED = "input.rejected"
    AUDIT_QUERIED = "audit.queried"
    AUDIT_EXPORTED = "audit.exported"
    # Grant events Nylas reported by webhook (actor `nylas`), and what people did with the alerts.
    NYLAS_GRANT_CREATED = "nylas.grant.created"
    NYLAS_GRANT_UPDATED = "nylas.grant.updated"
    NYLAS_GRANT_EXPIRED = "nylas.grant.expired"
    NYLAS_GRANT_DELETED = "nylas.grant.deleted"
    WEBHOOK_REJECTED = "webhook.rejected"
    ALERT_MUTED = "alert.muted"
    ALERT_LIST_SENT = "alert.list_sent"


@dataclass(frozen=True)
class Actor:
    """Who acted: a Slack user id and their display name at that moment, or `cli:<os user>`."""

    id: str
    name: str


@dataclass(frozen=True)
class Subject:
    """What an event is about; every field is optional."""

    credential_id: str | None = None
    email: str | None = None
    grant_id: str | None = None
    run_id: int | None = None


def canonical_details(details: dict[str, Any] | None) -> str:
    for key in details or {}:
        if any(word in key.lower() for word in _FORBIDDEN_DETAIL_KEYS):
            raise ValueError(f"audit details must not carry secrets (key {key!r})")
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)


def _canonical_content(event: AuditEvent) -> bytes:
    content = {
        "seq": event.seq,
        "occurred_at": as_utc(event.occurred_at).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "outcome": event.outcome,
        "credential_id": event.credential_id,
        "email": event.email,
        "grant_id": event.grant_id,
        "run_id": event.run_id,
        "request_id": event.request_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def legacy_event_hash(event: AuditEvent) -> str:
    """How events were hashed before audit keys (plain SHA-256): they still verify this way."""
    return hashlib.sha256(_canonical_content(event)).hexdigest()


def event_hash(event: AuditEvent, key: AuditKey) -> str:
    return key.sign(_canonical_content(event))


def audit_key_of(session: AsyncSession) -> AuditKey:
    key = session.info.get(SESSION_INFO_KEY)
    if not isinstance(key, AuditKey):
        raise AuditKeyMissing("this session has no audit key (see storage.db.session_factory)")
    return key


@dataclass(frozen=True)
class EventSpec:
    """One event to append: who, what, about what, how it ended."""

    actor: Actor
    action: AuditAction
    subject: Subject = Subject()
    outcome: str = "ok"
    request_id: str | None = None
    details: dict[str, Any] | None = None


async def record_events(*, session: AsyncSession, specs: list[EventSpec]) -> list[AuditEvent]:
    """Append events in order, in the caller's transaction (the caller commits). The chain head
    is locked once for the whole batch, so a bulk run's outcomes cost one round trip each."""
    if not specs:
        return []
    key = audit_key_of(session)
    details = [canonical_details(spec.details) for spec in specs]
    claimed = await session.exec(
        update(AuditChainHead)
        .where(col(AuditChainHead.id) == 1)
        .values(seq=AuditChainHead.seq + len(specs))
        .returning(col(AuditChainHead.seq), col(AuditChainHead.last_hash))
    )
    last_seq, prev_hash = claimed.one()
    now = utcnow()
    events = []
    for offset, (spec, details_json) in enumerate(zip(specs, details, strict=True)):
        event = AuditEvent(
            seq=last_seq - len(specs) + 1 + offset,
            occurred_at=now,
            actor_id=spec.actor.id,
            actor_name=spec.actor.name,
            action=spec.action,
            outcome=spec.outcome,
            credential_id=spec.subject.credential_id,
            email=spec.subject.email.lower() if spec.subject.email else None,
            grant_id=spec.subject.grant_id,
            run_id=spec.subject.run_id,
            request_id=spec.request_id,
            details=details_json,
            prev_hash=prev_hash,
            hash="",
        )
        event.hash = prev_hash = event_hash(event, key)
        events.append(event)
    # one INSERT of plain rows: the ORM's unit of work cost a bulk run more CPU than the hashing
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    names = [column.key for column in table.columns]
    rows = [{name: getattr(event, name) for name in names} for event in events]
    await session.exec(insert(table), params=rows)
    await session.exec(
        update(AuditChainHead).where(col(AuditChainHead.id) == 1).values(last_hash=prev_hash)
    )
    return events


async def record_event(
    *,
    session: AsyncSession,
    actor: Actor,
    action: AuditAction,
    subject: Subject = Subject(),
    outcome: str = "ok",
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (the caller commits)."""
    spec = EventSpec(actor, action, subject, outcome, request_id, details)
    return (await record_events(session=session, specs=[spec]))[0]


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    actor_id: str | None = None
    email: str | None = None
    credential_id: str | None = None
    run_id: int | None = None
    action_prefix: str | None = None

    def apply(self, query: SelectOfScalar[AuditEvent]) -> SelectOfScalar[AuditEvent]:
        if self.since is not None:
            query = query.where(col(AuditEvent.occurred_at) >= self.since)
        if self.actor_id is not None:
            query = query.where(col(AuditEvent.actor_id) == self.actor_id)
        if self.email is not None:
            query = query.where(col(AuditEvent.email) == self.email.lower())
        if self.credential_id is not None:
            # Run events (approved, started, finished…) name the run, not the credential.
            runs_of_credential = (
                select(BulkRun.id)
                .join(CredentialRecord, col(BulkRun.credential_id) == col(CredentialRecord.id))
                .where(col(CredentialRecord.nylas_credential_id) == self.credential_id)
            )
            query = query.where(
                or_(
                    col(AuditEvent.credential_id) == self.credential_id,
                    col(AuditEvent.run_id).in_(runs_of_credential),
                )
            )
        if self.run_id is not None:
            query = query.where(col(AuditEvent.run_id) == self.run_id)
        if self.action_prefix is not None:
            query = query.where(col(AuditEvent.action).startswith(self.action_prefix))
        return query


async def latest_events(
    *, session: AsyncSession, filters: AuditFilter = AuditFilter(), limit: int = 20
) -> list[AuditEvent]:
    query = filters.apply(select(AuditEvent)).order_by(col(AuditEvent.seq).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def count_events(*, session: AsyncSession, filters: AuditFilter = AuditFilter()) -> int:
    matching = filters.apply(select(AuditEvent)).subquery()
    return int((await session.exec(select(func.count()).select_from(matching))).one())


async def stream_events(
    *, session: AsyncSession, filters: AuditFilter = AuditFilter(), batch_size: int = 1000
) -> AsyncIterator[AuditEvent]:
    """Every matching event, oldest first, fetched in batches (constant memory)."""
    query = filters.apply(select(AuditEvent)).order_by(col(AuditEvent.seq))
    result = await session.stream_scalars(query.execution_options(yield_per=batch_size))
    async for event in result:
        yield event


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None  # None: the chain head itself
    kind: str

    def describe(self) -> str:
        where = "the chain head" if self.seq is None else f"audit event #{self.seq}"
        return f"{where}: {self.kind}"


@dataclass(frozen=True)
class Anchor:
    """The head as recorded outside the database: event `seq` had hash `hash`."""

    seq: int
    hash: str
    at: str = ""


async def _head_rows(session: AsyncSession) -> list[AuditChainHead]:
    return list((await session.exec(select(AuditChainHead))).all())


async def chain_head(*, session: AsyncSession) -> Anchor | None:
    """The current head (None when its row is missing or doubled: the chain is broken)."""
    heads = await _head_rows(session)
    return Anchor(heads[0].seq, heads[0].last_hash) if len(heads) == 1 else None


def _head_problem(heads: list[AuditChainHead]) -> ChainProblem | None:
    if not heads:
        return ChainProblem(None, "its row is missing (deleted)")
    if len(heads) > 1:
        return ChainProblem(None, f"there are {len(heads)} head rows instead of one")
    return None


async def verify_chain(
    *, session: AsyncSession, advance: Callable[[], None] | None = None
) -> tuple[int, ChainProblem | None]:
    """(events checked, the first problem or None); `advance` is called once per event checked
    (the CLI's progress bar)."""
    key = audit_key_of(session)
    heads = await _head_rows(session)
    if problem := _head_problem(heads):
        return 0, problem
    head = heads[0]
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    async for event in stream_events(session=session):
        keyed = event.seq >= head.keyed_from_seq
        if event.hash != (event_hash(event, key) if keyed else legacy_event_hash(event)):
            return checked, ChainProblem(event.seq, "altered (its content no longer matches)")
        if event.seq != expected_seq or event.prev_hash != expected_prev:
            return checked, ChainProblem(event.seq, "an event before it was removed or reordered")
        expected_prev, expected_seq = event.hash, event.seq + 1
        checked += 1
        if advance is not None:
            advance()
    if head.seq != checked or head.last_hash != expected_prev:
        return checked, ChainProblem(checked + 1, "removed from the end of the log")
    return checked, None


async def check_anchors(
    *, session: AsyncSession, anchors: Iterable[Anchor], checked: int
) -> ChainProblem | None:
    """Hold a verified chain of `checked` events against anchors: an anchored event that is
    gone means the end was cut off (or the log was emptied); a different hash at an anchored
    position means the log was replaced."""
    for anchor in sorted(anchors, key=lambda a: a.seq):
        if anchor.seq == 0:
            continue
        if anchor.seq > checked:
            when = f" (anchored {anchor.at})" if anchor.at else ""
            return ChainProblem(anchor.seq, f"removed: an anchor vouches for it{when}")
        stored = (
            await session.exec(select(AuditEvent.hash).where(col(AuditEvent.seq) == anchor.seq))
        ).one_or_none()
        if stored != anchor.hash:
            return ChainProblem(anchor.seq, "replaced: its hash does not match its anchor")
    return None
