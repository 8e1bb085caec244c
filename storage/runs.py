"""Bulk runs and their items. Items are claimed in batches with row locks (FOR UPDATE SKIP
LOCKED on PostgreSQL; SQLite has one writer at a time), so several workers sharing one database
never take the same item at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import BulkRun, ItemStatus, RunItem, utcnow

INSERT_BATCH = 1000


async def create_run(*, session: AsyncSession, run: BulkRun) -> BulkRun:
    session.add(run)
    await session.flush()
    return run


async def get_run(*, session: AsyncSession, run_id: int) -> BulkRun | None:
    return await session.get(BulkRun, run_id)


async def add_items(
    *,
    session: AsyncSession,
    run_id: int,
    emails: Iterable[str],
    status: ItemStatus = ItemStatus.PENDING,
) -> int:
    """Insert one pending item per email, in batches; returns how many were written."""
    written = 0
    batch: list[dict[str, object]] = []
    for email in emails:
        batch.append({"run_id": run_id, "email": email, "status": status, "attempts": 0})
        if len(batch) >= INSERT_BATCH:
            await session.exec(insert(RunItem), params=batch)
            written += len(batch)
            batch = []
    if batch:
        await session.exec(insert(RunItem), params=batch)
        written += len(batch)
    return written


@dataclass(frozen=True)
class ClaimedItem:
    id: int
    email: str
    attempts: int


async def claim_items(
    *, session: AsyncSession, run_id: int, worker_id: str, limit: int, stale_before: datetime
) -> list[ClaimedItem]:
    """Take up to `limit` pending items (or items whose claim went stale: the worker that took
    them stopped) and mark them in progress for `worker_id`. The caller commits."""
    claimable = (
        select(RunItem.id)
        .where(col(RunItem.run_id) == run_id)
        .where(
            or_(
                col(RunItem.status) == ItemStatus.PENDING,
                (col(RunItem.status) == ItemStatus.IN_PROGRESS)
                & (col(RunItem.claimed_at) < stale_before),
            )
        )
        .order_by(col(RunItem.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.exec(
        update(RunItem)
        .where(col(RunItem.id).in_(claimable.scalar_subquery()))
        .values(
            status=ItemStatus.IN_PROGRESS,
            claimed_by=worker_id,
            claimed_at=utcnow(),
            attempts=RunItem.attempts + 1,
        )
        .returning(col(RunItem.id), col(RunItem.email), col(RunItem.attempts))
    )
    return [ClaimedItem(id=row[0], email=row[1], attempts=row[2]) for row in claimed.all()]


async def finish_item(
    *,
    session: AsyncSession,
    item_id: int,
    worker_id: str,
    status: ItemStatus,
    grant_id: str | None = None,
    error: str | None = None,
    request_id: str | None = None,
) -> bool:
    """Record an item's outcome; False when another worker has since taken it over."""
    result = await session.exec(
        update(RunItem)
        .where(col(RunItem.id) == item_id)
        .where(col(RunItem.claimed_by) == worker_id)
        .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
        .values(
            status=status,
            grant_id=grant_id,
            last_error=error,
            request_id=request_id,
            finished_at=utcnow(),
        )
    )
    return bool(result.rowcount)


async def release_items(*, session: AsyncSession, item_ids: Sequence[int], worker_id: str) -> None:
    """Hand claimed but unsent items back (on cancel or shutdown)."""
    if item_ids:
        await session.exec(
            update(RunItem)
            .where(col(RunItem.id).in_(list(item_ids)))
            .where(col(RunItem.claimed_by) == worker_id)
            .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
            .values(status=ItemStatus.PENDING, claimed_by=None, claimed_at=None)
        )


async def item_counts(*, session: AsyncSession, run_id: int) -> dict[str, int]:
    rows = await session.exec(
        select(RunItem.status, func.count())
        .where(col(RunItem.run_id) == run_id)
        .group_by(col(RunItem.status))
    )
    return {str(status): int(count) for status, count in rows.all()}


async def items_of(*, session: AsyncSession, run_id: int) -> list[RunItem]:
    query = select(RunItem).where(col(RunItem.run_id) == run_id).order_by(col(RunItem.id))
    return list((await session.exec(query)).all())
