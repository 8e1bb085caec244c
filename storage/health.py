"""Each credential's invalid grants at the last health sweep, and what changed since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.grant_owners import CHUNK
from storage.models import HealthSnapshot, InvalidGrant


@dataclass(frozen=True)
class Changes:
    newly_invalid: dict[str, str | None]  # grant id -> email
    recovered: dict[str, str | None]  # invalid at the last sweep, not any more


async def stored_invalid(*, session: AsyncSession, credential_id: int) -> dict[str, str | None]:
    rows = await session.exec(
        select(InvalidGrant.grant_id, InvalidGrant.email).where(
            col(InvalidGrant.credential_id) == credential_id
        )
    )
    return {str(grant_id): email for grant_id, email in rows.all()}


async def record_sweep(
    *,
    session: AsyncSession,
    credential_id: int,
    invalid: Mapping[str, str | None],
    now: datetime,
) -> Changes:
    """Store the credential's invalid grants found now; returns what changed since the last
    sweep. The caller commits (with the audit events of the changes)."""
    before = await stored_invalid(session=session, credential_id=credential_id)
    changes = Changes(
        newly_invalid={k: v for k, v in invalid.items() if k not in before},
        recovered={k: v for k, v in before.items() if k not in invalid},
    )
    gone = list(changes.recovered)
    new = list(changes.newly_invalid)
    for start in range(0, max(len(gone), len(new)), CHUNK):
        drop = gone[start : start + CHUNK] + new[start : start + CHUNK]  # new: if moved
        await session.exec(delete(InvalidGrant).where(col(InvalidGrant.grant_id).in_(drop)))
    rows = [
        {"grant_id": k, "credential_id": credential_id, "email": v, "first_seen_at": now}
        for k, v in changes.newly_invalid.items()
    ]
    for start in range(0, len(rows), CHUNK):
        await session.exec(insert(InvalidGrant).values(rows[start : start + CHUNK]))
    snapshot = await session.get(HealthSnapshot, credential_id)
    if snapshot is None:
        session.add(HealthSnapshot(credential_id=credential_id, swept_at=now, invalid=len(invalid)))
    else:
        snapshot.swept_at, snapshot.invalid = now, len(invalid)
        session.add(snapshot)
    return changes


async def snapshots(*, session: AsyncSession) -> dict[int, HealthSnapshot]:
    """The last sweep's figures by credential (credentials never swept are absent)."""
    rows = await session.exec(select(HealthSnapshot))
    return {row.credential_id: row for row in rows.all()}
