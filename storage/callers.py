"""What each replica calling Nylas for runs may hold of the application's budget: the most calls it
may have in Nylas's one-second window until its next word, and whether it takes no share of the
budget (it makes nothing but runs' canary calls, or its pass ended and its last calls are still in
the window). A replica writes its row while it counts others calling beside it (and while it makes
a canary's calls or its last calls are in the window) and deletes it when it counts itself alone
again; the others read the recent rows (bot/runs/execution/budget.py). Only a worker writes its own
row (one write at a time), so an update that finds none inserts it without a race."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Integer, cast, delete, null, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from storage.models import NylasCaller, utcnow
from storage.runs import live_workers_query


@dataclass(frozen=True)
class Holds:
    calls: int  # the most it may have in Nylas's window until its next word
    aside: bool  # it takes no share: these calls are all it has (canary calls, or a pass's last)


async def publish_holds(*, session: AsyncSession, worker_id: str, holds: Holds) -> None:
    now = utcnow()
    changed = await session.exec(
        update(NylasCaller)
        .where(col(NylasCaller.worker_id) == worker_id)
        .values(holds=holds.calls, aside=holds.aside, updated_at=now)
    )
    if not changed.rowcount:
        row = NylasCaller(worker_id=worker_id, holds=holds.calls, aside=holds.aside)
        session.add(row)


async def withdraw_holds(*, session: AsyncSession, worker_id: str) -> None:
    await session.exec(delete(NylasCaller).where(col(NylasCaller.worker_id) == worker_id))


def _words(updated_since: datetime) -> Select[str, int, bool]:
    return select(NylasCaller.worker_id, NylasCaller.holds, NylasCaller.aside).where(
        col(NylasCaller.updated_at) >= updated_since
    )


@dataclass(frozen=True)
class Callers:
    claiming: set[str]  # the workers holding fresh claims on running runs' items
    words: dict[str, Holds]  # what each worker that spoke lately holds


async def callers_now(
    *, session: AsyncSession, claims_since: datetime, words_since: datetime
) -> Callers:
    """The workers holding fresh claims (storage/runs.py `live_workers_query`) and every worker's
    holds written since `words_since`, in one statement: a replica counts four times a second
    while a run is worked, and each statement costs it a round trip (on SQLite, several
    hand-overs to the driver's thread)."""
    claims = live_workers_query(claims_since).subquery()
    no_word = (cast(null(), Integer).label("holds"), cast(null(), Boolean).label("aside"))
    rows = union_all(select(claims.c.claimed_by, *no_word), _words(words_since)).subquery()
    query = select(rows.c.claimed_by, rows.c.holds, rows.c.aside)
    claiming: set[str] = set()
    words: dict[str, Holds] = {}
    for worker, calls, aside in (await session.exec(query)).all():
        if calls is None:  # a claim's row
            if worker:
                claiming.add(worker)
        else:
            words[worker] = Holds(calls, aside)
    return Callers(claiming, words)
