"""Credentials registered through the bot (identifiers only, never secrets)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Sessions
from storage.models import CredentialRecord, CredentialReminder
from storage.once import inserted_first


async def add_credential(*, session: AsyncSession, record: CredentialRecord) -> CredentialRecord:
    session.add(record)
    await session.flush()
    return record


async def name_taken(*, session: AsyncSession, provider: str, name: str) -> bool:
    query = select(CredentialRecord.id).where(
        col(CredentialRecord.provider) == provider,
        func.lower(CredentialRecord.name) == name.lower(),
    )
    return (await session.exec(query)).first() is not None


async def credentials_by_nylas_id(
    *, session: AsyncSession, nylas_ids: list[str]
) -> dict[str, CredentialRecord]:
    if not nylas_ids:
        return {}
    query = select(CredentialRecord).where(col(CredentialRecord.nylas_credential_id).in_(nylas_ids))
    return {record.nylas_credential_id: record for record in (await session.exec(query)).all()}


async def list_credentials(
    *, session: AsyncSession, provider: str | None = None
) -> list[CredentialRecord]:
    """The credentials in use (not deleted), newest first."""
    query = (
        select(CredentialRecord)
        .where(col(CredentialRecord.deleted_at).is_(None))
        .order_by(col(CredentialRecord.registered_at).desc())
    )
    if provider:
        query = query.where(col(CredentialRecord.provider) == provider)
    return list((await session.exec(query)).all())


async def every_credential(*, session: AsyncSession) -> list[CredentialRecord]:
    """Every credential ever registered, deleted ones included (what old records name)."""
    return list((await session.exec(select(CredentialRecord))).all())


async def get_credential(*, session: AsyncSession, credential_id: int) -> CredentialRecord | None:
    return await session.get(CredentialRecord, credential_id)


async def find_credential(
    *, session: AsyncSession, name_or_id: str, provider: str | None = None
) -> CredentialRecord | None:
    """By name (any case) or by Nylas credential id; a deleted one is not found."""
    query = select(CredentialRecord).where(
        (func.lower(CredentialRecord.name) == name_or_id.lower())
        | (col(CredentialRecord.nylas_credential_id) == name_or_id),
        col(CredentialRecord.deleted_at).is_(None),
    )
    if provider:
        query = query.where(col(CredentialRecord.provider) == provider)
    return (await session.exec(query)).first()


async def expiring_secrets(*, session: AsyncSession, until: date) -> list[CredentialRecord]:
    """Microsoft credentials whose client secret expires on or before `until` (or has expired),
    soonest first."""
    query = (
        select(CredentialRecord)
        .where(col(CredentialRecord.secret_expires_on).is_not(None))
        .where(col(CredentialRecord.secret_expires_on) <= until)
        .order_by(col(CredentialRecord.secret_expires_on))
    )
    return list((await session.exec(query)).all())


async def sent_reminders(*, session: AsyncSession) -> set[tuple[int, str]]:
    """(credential row id, threshold) of every expiry reminder already claimed."""
    query = select(CredentialReminder.credential_id, CredentialReminder.threshold)
    return {(row[0], row[1]) for row in (await session.exec(query)).all()}


async def claim_credential_reminder(
    sessions: Sessions, *, credential_id: int, threshold: str, at: datetime
) -> bool:
    """Exactly one replica wins a threshold: its row is inserted and committed on its own, and
    every other insert of the same pair fails on the unique constraint."""
    async with sessions() as session:
        return await inserted_first(
            session,
            CredentialReminder(credential_id=credential_id, threshold=threshold, sent_at=at),
        )


async def unclaim_credential_reminder(
    sessions: Sessions, *, credential_id: int, threshold: str
) -> None:
    """The reminder could not be posted anywhere: let it be tried again."""
    async with sessions() as session:
        await session.exec(
            delete(CredentialReminder).where(
                col(CredentialReminder.credential_id) == credential_id,
                col(CredentialReminder.threshold) == threshold,
            )
        )
        await session.commit()


async def mark_deleted(*, session: AsyncSession, credential_id: int, by: str, at: datetime) -> bool:
    """Record that the credential was deleted at Nylas, once (False: it already was)."""
    result = await session.exec(
        update(CredentialRecord)
        .where(col(CredentialRecord.id) == credential_id)
        .where(col(CredentialRecord.deleted_at).is_(None))
        .values(deleted_at=at, deleted_by=by)
    )
    return bool(result.rowcount)
