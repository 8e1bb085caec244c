"""Microsoft admin-consent requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConsentRequest, ConsentStatus


async def latest_consents(
    *, session: AsyncSession, credential_ids: list[int]
) -> dict[int, ConsentRequest]:
    """The most telling consent request of each credential that has one: its newest consented
    request (a later unanswered link does not undo a consent), else its newest of any status."""
    if not credential_ids:
        return {}
    query = (
        select(ConsentRequest)
        .where(col(ConsentRequest.credential_id).in_(credential_ids))
        .order_by(col(ConsentRequest.id))
    )
    latest: dict[int, ConsentRequest] = {}
    for consent in (await session.exec(query)).all():
        current = latest.get(consent.credential_id)
        if (
            current is None
            or current.status != ConsentStatus.CONSENTED
            or consent.status == ConsentStatus.CONSENTED
        ):
            latest[consent.credential_id] = consent
    return latest


async def add_consent_request(*, session: AsyncSession, request: ConsentRequest) -> ConsentRequest:
    session.add(request)
    await session.flush()
    return request


async def get_consent_request(*, session: AsyncSession, consent_id: int) -> ConsentRequest | None:
    return await session.get(ConsentRequest, consent_id)


async def find_by_state_hash(*, session: AsyncSession, state_hash: str) -> ConsentRequest | None:
    query = select(ConsentRequest).where(col(ConsentRequest.state_hash) == state_hash)
    return (await session.exec(query)).first()


async def mark_consented(
    *, session: AsyncSession, consent_id: int, by: str, at: datetime, ready_at: datetime
) -> bool:
    """Pending → consented, once: False when the request was already used."""
    result = await session.exec(
        update(ConsentRequest)
        .where(col(ConsentRequest.id) == consent_id)
        .where(col(ConsentRequest.status) == ConsentStatus.PENDING)
        .values(status=ConsentStatus.CONSENTED, consented_at=at, consented_by=by, ready_at=ready_at)
    )
    return bool(result.rowcount)


async def mark_failed(*, session: AsyncSession, consent_id: int, at: datetime, error: str) -> bool:
    result = await session.exec(
        update(ConsentRequest)
        .where(col(ConsentRequest.id) == consent_id)
        .where(col(ConsentRequest.status) == ConsentStatus.PENDING)
        .values(status=ConsentStatus.FAILED, failed_at=at, error=error)
    )
    return bool(result.rowcount)


async def claim_reminder(*, session: AsyncSession, consent_id: int, at: datetime) -> bool:
    """Exactly one replica wins the right to post a reminder."""
    result = await session.exec(
        update(ConsentRequest)
        .where(col(ConsentRequest.id) == consent_id)
        .where(col(ConsentRequest.status) == ConsentStatus.CONSENTED)
        .where(col(ConsentRequest.reminded_at).is_(None))
        .values(reminded_at=at)
    )
    return bool(result.rowcount)


async def unclaim_reminder(*, session: AsyncSession, consent_id: int) -> None:
    """The post failed: let the reminder be tried again."""
    await session.exec(
        update(ConsentRequest).where(col(ConsentRequest.id) == consent_id).values(reminded_at=None)
    )


async def reminders_due(*, session: AsyncSession) -> list[ConsentRequest]:
    """Consented requests whose reminder has not been posted (the scheduler's source of truth)."""
    query = (
        select(ConsentRequest)
        .where(col(ConsentRequest.status) == ConsentStatus.CONSENTED)
        .where(col(ConsentRequest.reminded_at).is_(None))
    )
    return list((await session.exec(query)).all())


async def latest_consent(*, session: AsyncSession, credential_id: int) -> ConsentRequest | None:
    """The most telling consent request of one credential (see `latest_consents`)."""
    return (await latest_consents(session=session, credential_ids=[credential_id])).get(
        credential_id
    )


async def set_consent_message(
    *, session: AsyncSession, consent_id: int, channel_id: str, ts: str
) -> None:
    """Where the link was posted: its thread carries every later update."""
    await session.exec(
        update(ConsentRequest)
        .where(col(ConsentRequest.id) == consent_id)
        .values(channel_id=channel_id, thread_ts=ts)
    )


async def open_consents(*, session: AsyncSession, now: datetime) -> list[ConsentRequest]:
    """Links still waiting for the admin, and consents still propagating; oldest first."""
    query = (
        select(ConsentRequest)
        .where(
            or_(
                (col(ConsentRequest.status) == ConsentStatus.PENDING)
                & (col(ConsentRequest.expires_at) > now),
                (col(ConsentRequest.status) == ConsentStatus.CONSENTED)
                & (col(ConsentRequest.ready_at) > now),
            )
        )
        .order_by(col(ConsentRequest.id))
    )
    return list((await session.exec(query)).all())
