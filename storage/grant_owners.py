"""Which registered credential a Nylas grant belongs to when Nylas does not say (a grant without
`credential_id`): the runs that made or re-authenticated it know, by grant id or by mailbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import BulkRun, RunItem
from storage.runs import GRANTED_ITEM_STATUSES

CHUNK = 500  # ids per IN (…): well under every database's parameter limit


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


async def owners_by_grant_id(*, session: AsyncSession, grant_ids: Sequence[str]) -> dict[str, int]:
    """grant id -> the bot's credential id, for grants a run of the bot made."""
    owners: dict[str, int] = {}
    for chunk in _chunks(grant_ids):
        rows = await session.exec(
            select(RunItem.grant_id, BulkRun.credential_id)
            .join(BulkRun, col(RunItem.run_id) == col(BulkRun.id))
            .where(col(RunItem.grant_id).in_(chunk))
            .where(col(RunItem.status).in_(GRANTED_ITEM_STATUSES))
        )
        owners.update(
            {str(grant_id): int(owner) for grant_id, owner in rows.all() if owner is not None}
        )
    return owners


async def owners_by_email(
    *, session: AsyncSession, emails: Sequence[str], provider: str
) -> dict[str, int]:
    """lower-cased mailbox -> the credential of the newest run of `provider` that granted it."""
    owners: dict[str, int] = {}
    for chunk in _chunks([email.lower() for email in emails]):
        rows = await session.exec(
            select(RunItem.email, BulkRun.credential_id)
            .join(BulkRun, col(RunItem.run_id) == col(BulkRun.id))
            .where(col(RunItem.email).in_(chunk))
            .where(col(BulkRun.provider) == provider)
            .where(col(RunItem.status).in_(GRANTED_ITEM_STATUSES))
            .order_by(col(RunItem.run_id))
        )
        owners.update(  # newest wins
            {str(email): int(owner) for email, owner in rows.all() if owner is not None}
        )
    return owners


async def last_scopes(*, session: AsyncSession, credential_id: int) -> tuple[str, ...]:
    """The scopes of the credential's newest run that had any (Google)."""
    row = (
        await session.exec(
            select(BulkRun.scopes)
            .where(col(BulkRun.credential_id) == credential_id)
            .where(col(BulkRun.scopes) != "")
            .order_by(col(BulkRun.id).desc())
            .limit(1)
        )
    ).first()
    return tuple(row.split()) if row else ()
