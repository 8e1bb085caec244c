"""What each replica calling Nylas for runs may hold of the application's budget: the most calls it
may have in Nylas's one-second window until its next word, and whether it makes nothing but runs'
canary calls. A replica writes its row while it counts others calling beside it (and while it makes
a canary's calls) and deletes it when it counts itself alone again; the others read the recent rows
(bot/runs/execution/budget.py). Only a worker writes its own row (one write at a time), so an update
that finds none inserts it without a race."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import NylasCaller, utcnow


@dataclass(frozen=True)
class Holds:
    calls: int  # the most it may have in Nylas's window until its next word
    canary: bool  # it makes nothing but runs' canary calls


async def publish_holds(*, session: AsyncSession, worker_id: str, holds: Holds) -> None:
    now = utcnow()
    changed = await session.exec(
        update(NylasCaller)
        .where(col(NylasCaller.worker_id) == worker_id)
        .values(holds=holds.calls, canary=holds.canary, updated_at=now)
    )
    if not changed.rowcount:
        row = NylasCaller(worker_id=worker_id, holds=holds.calls, canary=holds.canary)
        session.add(row)


async def withdraw_holds(*, session: AsyncSession, worker_id: str) -> None:
    await session.exec(delete(NylasCaller).where(col(NylasCaller.worker_id) == worker_id))


async def holds_of(*, session: AsyncSession, updated_since: datetime) -> dict[str, Holds]:
    """Every worker's holds written since `updated_since`."""
    query = select(NylasCaller.worker_id, NylasCaller.holds, NylasCaller.canary).where(
        col(NylasCaller.updated_at) >= updated_since
    )
    rows = (await session.exec(query)).all()
    return {worker: Holds(calls, canary) for worker, calls, canary in rows}
