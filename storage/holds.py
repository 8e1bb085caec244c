"""Held runs: stopped by their canary or circuit breaker, resumed by a person. A resume sends
again the users that failed for the reason the run was held. And cancels made outside the bot,
waiting for a replica to report them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import BulkRun, ItemStatus, RunItem, RunStatus


async def hold_run(*, session: AsyncSession, run_id: int, reason: str, count: int) -> bool:
    """Running → held, once (False: it was no longer running). The caller commits."""
    result = await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .where(col(BulkRun.status) == RunStatus.RUNNING)
        .values(status=RunStatus.HELD, hold_reason=reason, hold_count=count)
    )
    return bool(result.rowcount)


async def resume_run(*, session: AsyncSession, run_id: int) -> int | None:
    """Held → running, once, with the users that failed for the hold's reason pending again;
    returns how many users go again (None: the run was not held). The caller commits."""
    run = await session.get(BulkRun, run_id, with_for_update=True)
    if run is None or run.status != RunStatus.HELD:
        return None
    reason = run.hold_reason or ""
    retried = await session.exec(
        update(RunItem)
        .where(col(RunItem.run_id) == run_id)
        .where(col(RunItem.status) == ItemStatus.FAILED)
        .where(
            or_(
                col(RunItem.problem) == reason,
                and_(col(RunItem.problem).is_(None), col(RunItem.last_error) == reason),
            )
        )
        .values(
            status=ItemStatus.PENDING,
            attempts=0,
            last_error=None,
            problem=None,
            request_id=None,
            claimed_by=None,
            claimed_at=None,
            finished_at=None,
        )
    )
    await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .values(status=RunStatus.RUNNING, hold_reason=None, hold_count=None)
    )
    return int(retried.rowcount or 0)


async def claim_unreported_cancels(*, session: AsyncSession, at: datetime) -> list[tuple[int, str]]:
    """Runs cancelled outside the bot (the CLI) whose end nobody has told in Slack yet, each
    claimed by a conditional update so exactly one replica reports it: (run id, who)."""
    query = (
        select(BulkRun)
        .where(col(BulkRun.status) == RunStatus.CANCELLED)
        .where(col(BulkRun.end_reported_at).is_(None))
        .order_by(col(BulkRun.id))
    )
    claimed: list[tuple[int, str]] = []
    for run in (await session.exec(query)).all():
        won = await session.exec(
            update(BulkRun)
            .where(col(BulkRun.id) == run.id)
            .where(col(BulkRun.end_reported_at).is_(None))
            .values(end_reported_at=at)
        )
        if won.rowcount and run.id is not None:
            claimed.append((run.id, run.cancelled_by or "someone"))
    return claimed
