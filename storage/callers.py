"""What each replica calling Nylas for runs may hold of the application's budget: the most calls
it may have in Nylas's one-second window until its next word. A replica writes its row while it
counts others calling beside it and deletes it when it counts itself alone again; the others read
the rows of the live workers (bot/runs/execution/budget.py). Only a worker writes its own row, so
an update that finds none inserts it without a race."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import NylasCaller, utcnow


async def publish_holds(*, session: AsyncSession, worker_id: str, holds: int) -> None:
    now = utcnow()
    changed = await session.exec(
        update(NylasCaller)
        .where(col(NylasCaller.worker_id) == worker_id)
        .values(holds=holds, updated_at=now)
    )
    if not changed.rowcount:
        session.add(NylasCaller(worker_id=worker_id, holds=holds, updated_at=now))


async def withdraw_holds(*, session: AsyncSession, worker_id: str) -> None:
    await session.exec(delete(NylasCaller).where(col(NylasCaller.worker_id) == worker_id))


async def holds_of(
    *, session: AsyncSession, workers: Collection[str], updated_since: datetime
) -> dict[str, int]:
    """The holds of `workers` written since `updated_since` (a worker without one is missing)."""
    query = (
        select(NylasCaller.worker_id, NylasCaller.holds)
        .where(col(NylasCaller.worker_id).in_(list(workers)))
        .where(col(NylasCaller.updated_at) >= updated_since)
    )
    return dict((await session.exec(query)).all())
