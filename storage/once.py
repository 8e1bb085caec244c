"""Exactly once across replicas and restarts: the first process to insert a key (for example
`sweep:2026-11-30T00:00:00+00:00`) does the work; every other insert of that key meets the
primary key and is told no. Plain INSERT, so it works the same on SQLite and PostgreSQL (there,
a concurrent insert of the same key waits for the first to commit, then fails)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OnceClaim


async def inserted_first(session: AsyncSession, row: SQLModel) -> bool:
    """Insert `row` and commit: True when it went in, False (rolled back) when a row with its
    key was there already. Call it on a session with nothing else pending."""
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def claim_once(*, session: AsyncSession, key: str, claimed_by: str, now: datetime) -> bool:
    """True for the one caller that claims `key`. Commits (or rolls back) the session, so call
    it on a session with nothing else pending."""
    return await inserted_first(session, OnceClaim(key=key, claimed_at=now, claimed_by=claimed_by))


async def last_claimed(*, session: AsyncSession, prefix: str) -> datetime | None:
    """When the newest claim whose key starts with `prefix` was made (None: never)."""
    query = select(func.max(OnceClaim.claimed_at)).where(col(OnceClaim.key).startswith(prefix))
    return (await session.exec(query)).one()
