"""The Nylas webhook inbox: notifications stored once each (by Nylas's notification id) before
they are answered, then claimed in batches with row locks (FOR UPDATE SKIP LOCKED on PostgreSQL;
SQLite has one writer at a time) and marked processed in the transaction that audits them, so
each is processed exactly once across replicas and crashes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    BulkRun,
    CredentialRecord,
    ItemStatus,
    RequestKind,
    RunItem,
    WebhookNotification,
)

ORIGIN_CHUNK = 500
_GRANTED = (ItemStatus.CREATED, ItemStatus.REAUTHENTICATED, ItemStatus.SKIPPED)
_GRANTING = (RequestKind.GRANT, RequestKind.REAUTHENTICATE)


async def store_notifications(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert notifications, ignoring ids already stored (Nylas's retries); how many were new.
    The caller commits."""
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    build = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        build(WebhookNotification)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["notification_id"])
    )
    result = await session.exec(statement)
    return int(result.rowcount or 0)


async def claim_unprocessed(*, session: AsyncSession, limit: int) -> list[WebhookNotification]:
    """Up to `limit` unprocessed notifications, oldest first, locked for this transaction;
    another replica's transaction skips them."""
    found = await session.exec(
        select(WebhookNotification)
        .where(col(WebhookNotification.processed_at).is_(None))
        .order_by(col(WebhookNotification.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(found.all())


async def mark_processed(
    *, session: AsyncSession, alert_of: dict[int, int | None], at: datetime
) -> None:
    """Mark notifications processed (by row id), each with the alert it was folded into."""
    by_alert: dict[int | None, list[int]] = {}
    for row_id, alert_id in alert_of.items():
        by_alert.setdefault(alert_id, []).append(row_id)
    for alert_id, row_ids in by_alert.items():
        await session.exec(
            update(WebhookNotification)
            .where(col(WebhookNotification.id).in_(row_ids))
            .values(processed_at=at, alert_id=alert_id)
            .execution_options(synchronize_session=False)
        )


async def prune_processed(*, session: AsyncSession, received_before: datetime) -> int:
    """Forget processed notifications received before a time (older than any notification the
    endpoint still accepts, so a replay of one is refused by its age instead of its id)."""
    result = await session.exec(
        delete(WebhookNotification)
        .where(col(WebhookNotification.processed_at).is_not(None))
        .where(col(WebhookNotification.received_at) < received_before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class GrantOrigin:
    """What the bot knows of a grant: the credential (and the run) that made it."""

    credential_id: str  # Nylas's credential id
    credential_name: str
    provider: str
    secret_expires_on: date | None
    run_id: int | None


async def grant_origins(
    *, session: AsyncSession, grant_ids: Iterable[str], emails: Iterable[str]
) -> tuple[dict[str, GrantOrigin], dict[str, GrantOrigin]]:
    """Origins by grant id, and by lower-cased email for grants the bot never saw the id of
    (the newest run that gave the mailbox a grant wins)."""
    by_key: dict[str, dict[str, tuple[int | None, int]]] = {"grant": {}, "email": {}}
    columns: tuple[tuple[str, Any, list[str]], ...] = (
        ("grant", RunItem.grant_id, sorted(set(grant_ids))),
        ("email", RunItem.email, sorted({email.lower() for email in emails})),
    )
    for kind, column, wanted in columns:
        for start in range(0, len(wanted), ORIGIN_CHUNK):
            query = (
                select(col(column), col(BulkRun.id), col(BulkRun.credential_id))
                .join(BulkRun, col(BulkRun.id) == col(RunItem.run_id))
                .where(col(column).in_(wanted[start : start + ORIGIN_CHUNK]))
                .where(col(RunItem.status).in_(_GRANTED))
                # Only runs that grant: a revocation's skipped users have no grant from it.
                .where(col(BulkRun.kind).in_(_GRANTING))
                .where(col(BulkRun.credential_id).is_not(None))
                .order_by(col(RunItem.id))
            )
            for key, run_id, credential_row in (await session.exec(query)).all():
                if credential_row is not None:
                    by_key[kind][key] = (run_id, credential_row)
    rows = {row for origins in by_key.values() for _run, row in origins.values()}
    credentials = {
        record.id: record
        for record in (
            await session.exec(select(CredentialRecord).where(col(CredentialRecord.id).in_(rows)))
        ).all()
    }

    def origins(kind: str) -> dict[str, GrantOrigin]:
        result = {}
        for key, (run_id, row) in by_key[kind].items():
            record = credentials[row]
            result[key] = GrantOrigin(
                record.nylas_credential_id,
                record.name,
                record.provider,
                record.secret_expires_on,
                run_id,
            )
        return result

    by_grant, by_email = origins("grant"), origins("email")
    return by_grant, by_email


async def notifications_of_alert(
    *, session: AsyncSession, alert_id: int
) -> list[WebhookNotification]:
    found = await session.exec(
        select(WebhookNotification)
        .where(col(WebhookNotification.alert_id) == alert_id)
        .order_by(col(WebhookNotification.id))
    )
    return list(found.all())
