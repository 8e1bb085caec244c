"""Bulk runs and their items. Items are claimed in batches with row locks (FOR UPDATE SKIP
LOCKED on PostgreSQL; SQLite has one writer at a time), so several workers sharing one database
never take the same item at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    or_,
    update,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from storage.models import BulkRun, ItemStatus, RequestKind, RunItem, RunStatus, utcnow

INSERT_BATCH = 1000
ACTIVE_RUN_STATUSES = (
    RunStatus.AWAITING_APPROVAL,
    RunStatus.APPROVED,
    RunStatus.WAITING_FOR_CONSENT,
    RunStatus.RUNNING,
    RunStatus.HELD,
)
ENDED_RUN_STATUSES = (
    RunStatus.FINISHED,
    RunStatus.CANCELLED,
    RunStatus.REJECTED,
    RunStatus.EXPIRED,
)
GRANTED_ITEM_STATUSES = (ItemStatus.CREATED, ItemStatus.REAUTHENTICATED)


class HandBack(StrEnum):
    """What a user handed back (pending again) leaves in its `attempts`, which count the calls
    that went out without a usable answer: a user with any is looked up at Nylas before it is
    sent again or given up (an unanswered call may have made the grant)."""

    SENT = "sent"  # its call went out and no usable answer came back: the attempt counts
    UNSENT = "unsent"  # claimed, never sent (stopped, withdrawn): this claim is no attempt
    CHECKED = "checked"  # looked up: Nylas has no grant from its attempts, none count


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
    """Insert one item per email, in batches; returns how many were written."""
    return await items_with_presets(
        session=session, run_id=run_id, items=((email, status, None) for email in emails)
    )


@dataclass(frozen=True)
class ClaimedItem:
    id: int
    email: str
    attempts: int
    known_grant_id: str | None = None  # the user's grant found at planning time
    credential_id: str = ""  # the grant's Nylas credential in a revocation across all


def _in_doubt(stale_before: datetime) -> ColumnElement[bool]:
    """Users whose calls may have acted at Nylas unseen: pending with unanswered attempts, or
    claimed by a worker that stopped (its claim went stale). In a granting run, only users
    without a grant found at planning (a call may have made one); in a revocation, any (its
    DELETE may have deleted the grant)."""
    revocations = select(BulkRun.id).where(col(BulkRun.kind) == RequestKind.REVOKE)
    return and_(
        or_(col(RunItem.grant_id).is_(None), col(RunItem.run_id).in_(revocations)),
        or_(
            (col(RunItem.status) == ItemStatus.PENDING) & (col(RunItem.attempts) > 0),
            (col(RunItem.status) == ItemStatus.IN_PROGRESS)
            & (col(RunItem.claimed_at) < stale_before),
        ),
    )


def _claimable(worker_id: str, stale_before: datetime) -> ColumnElement[bool]:
    """A pending item, or one whose claim went stale (never `worker_id`'s own, still in
    flight)."""
    return or_(
        col(RunItem.status) == ItemStatus.PENDING,
        (col(RunItem.status) == ItemStatus.IN_PROGRESS)
        & (col(RunItem.claimed_at) < stale_before)
        & (col(RunItem.claimed_by) != worker_id),
    )


async def anything_to_claim(
    *, session: AsyncSession, run_id: int, worker_id: str, stale_before: datetime
) -> bool:
    """Whether `claim_items` would find a user for `worker_id` now."""
    query = (
        select(RunItem.id)
        .where(col(RunItem.run_id) == run_id, _claimable(worker_id, stale_before))
        .limit(1)
    )
    return (await session.exec(query)).first() is not None


async def claim_items(
    *,
    session: AsyncSession,
    run_id: int,
    worker_id: str,
    limit: int,
    stale_before: datetime,
    unanswered_only: bool = False,
) -> list[ClaimedItem]:
    """Take up to `limit` pending items (or items whose claim went stale: the worker that took
    them stopped) and mark them in progress for `worker_id`, counting an attempt each. With
    `unanswered_only`, only users in doubt (`_in_doubt`), to be looked up (no attempt counted).
    The caller commits."""
    claimable = select(RunItem.id).where(col(RunItem.run_id) == run_id)
    if unanswered_only:
        claimable = claimable.where(
            _in_doubt(stale_before), col(RunItem.claimed_by).is_distinct_from(worker_id)
        )
    else:
        claimable = claimable.where(_claimable(worker_id, stale_before))
    claimable = claimable.order_by(col(RunItem.id)).limit(limit).with_for_update(skip_locked=True)
    claimed = await session.exec(
        update(RunItem)
        .where(col(RunItem.id).in_(claimable.scalar_subquery()))
        .values(
            status=ItemStatus.IN_PROGRESS,
            claimed_by=worker_id,
            claimed_at=utcnow(),
            attempts=RunItem.attempts + (0 if unanswered_only else 1),
        )
        .returning(
            col(RunItem.id),
            col(RunItem.email),
            col(RunItem.attempts),
            col(RunItem.grant_id),
            col(RunItem.credential_id),
        )
    )
    return [
        ClaimedItem(
            id=row[0], email=row[1], attempts=row[2], known_grant_id=row[3], credential_id=row[4]
        )
        for row in claimed.all()
    ]


async def finish_item(
    *,
    session: AsyncSession,
    item_id: int,
    worker_id: str,
    status: ItemStatus,
    grant_id: str | None = None,
    error: str | None = None,
    request_id: str | None = None,
    problem: str | None = None,
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
            problem=problem,
            request_id=request_id,
            finished_at=utcnow(),
        )
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class ItemOutcome:
    item_id: int
    status: str
    grant_id: str | None = None
    error: str | None = None
    request_id: str | None = None
    problem: str | None = None


_TABLE = RunItem.__table__  # type: ignore[attr-defined]
_FINISH_ITEM = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("item"))
    .values(
        status=bindparam("outcome"),
        grant_id=bindparam("grant"),
        last_error=bindparam("error"),
        problem=bindparam("code"),
        request_id=bindparam("request"),
        finished_at=bindparam("at"),
    )
)


async def finish_items(
    *, session: AsyncSession, worker_id: str, outcomes: Sequence[ItemOutcome]
) -> set[int]:
    """Record many items' outcomes; returns the ids recorded (an item another worker has since
    taken over is left as it is). Two statements whatever the batch's size, each compiled once
    per process: the items still this worker's, locked, then one UPDATE run for each of them. (A
    single UPDATE from a VALUES list was compiled anew for every batch, which cost more CPU than
    writing it: 0.08-0.12 ms per user.)"""
    if not outcomes:
        return set()
    ids = [one.item_id for one in outcomes]
    owned = (
        select(RunItem.id)
        .where(col(RunItem.id).in_(ids))
        .where(col(RunItem.claimed_by) == worker_id)
        .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
        .with_for_update()  # (SQLite: the transaction holds the write lock already)
    )
    mine = {item_id for item_id in (await session.exec(owned)).all() if item_id is not None}
    if not mine:
        return mine
    now = utcnow()
    await session.exec(
        _FINISH_ITEM,
        params=[
            {
                "item": one.item_id,
                "outcome": one.status,
                "grant": one.grant_id,
                "error": one.error,
                "code": one.problem,
                "request": one.request_id,
                "at": now,
            }
            for one in outcomes
            if one.item_id in mine
        ],
    )
    return mine


_ATTEMPTS_LEFT = {
    HandBack.SENT: RunItem.attempts,
    HandBack.UNSENT: RunItem.attempts - 1,
    HandBack.CHECKED: 0,
}


async def release_items(
    *,
    session: AsyncSession,
    item_ids: Sequence[int],
    worker_id: str,
    hand_back: HandBack = HandBack.SENT,
) -> None:
    """Hand claimed items back (to be retried, or unsent on cancel or shutdown)."""
    if item_ids:
        await session.exec(
            update(RunItem)
            .where(col(RunItem.id).in_(list(item_ids)))
            .where(col(RunItem.claimed_by) == worker_id)
            .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
            .values(
                status=ItemStatus.PENDING,
                claimed_by=None,
                claimed_at=None,
                attempts=_ATTEMPTS_LEFT[hand_back],
            )
        )


async def release_claims(*, session: AsyncSession, run_id: int, worker_id: str) -> int:
    """Hand back every item of a run this worker still holds (its pass over the run has ended,
    so none of them is in flight here); returns how many."""
    result = await session.exec(
        update(RunItem)
        .where(col(RunItem.run_id) == run_id)
        .where(col(RunItem.claimed_by) == worker_id)
        .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
        .values(status=ItemStatus.PENDING, claimed_by=None, claimed_at=None)
    )
    return int(result.rowcount or 0)


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


async def transition(
    *,
    session: AsyncSession,
    run_id: int,
    from_statuses: Sequence[str],
    to_status: str,
    **values: object,
) -> bool:
    """Move a run between statuses exactly once: False when it was no longer in any of
    `from_statuses` (another click, replica or worker got there first)."""
    result = await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .where(col(BulkRun.status).in_(list(from_statuses)))
        .values(status=to_status, **values)
    )
    return bool(result.rowcount)


async def set_run_message(
    *, session: AsyncSession, run_id: int, channel_id: str, ts: str, thread_ts: str
) -> None:
    """Where the run's progress message is, and the thread its report goes to."""
    await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .values(channel_id=channel_id, message_ts=ts, thread_ts=thread_ts)
    )


async def set_approval_message(
    *, session: AsyncSession, run_id: int, channel_id: str, ts: str
) -> None:
    """Where the run's approval request was posted."""
    await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .values(approval_channel_id=channel_id, approval_ts=ts)
    )


async def store_counts(*, session: AsyncSession, run_id: int, counts: dict[str, int]) -> None:
    await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .values(
            created=counts.get(ItemStatus.CREATED, 0),
            reauthenticated=counts.get(ItemStatus.REAUTHENTICATED, 0),
            skipped=counts.get(ItemStatus.SKIPPED, 0),
            failed=counts.get(ItemStatus.FAILED, 0),
        )
    )


async def refresh_claims(*, session: AsyncSession, worker_id: str) -> None:
    """Heartbeat: this worker is alive, so its in-progress items are not stale."""
    await session.exec(
        update(RunItem)
        .where(col(RunItem.claimed_by) == worker_id)
        .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
        .values(claimed_at=utcnow())
    )


async def pending_left(*, session: AsyncSession, run_id: int, most: int) -> int:
    """How many of the run's users wait to be claimed, counted up to `most` (a bounded look)."""
    waiting = (
        select(RunItem.id)
        .where(col(RunItem.run_id) == run_id)
        .where(col(RunItem.status) == ItemStatus.PENDING)
        .limit(most)
        .subquery()
    )
    return (await session.exec(select(func.count()).select_from(waiting))).one()


def live_workers_query(fresh_since: datetime) -> SelectOfScalar[Any]:
    """The workers holding fresh claims on items of running runs (their heartbeat or claim is
    newer than `fresh_since`): the processes calling Nylas for runs right now."""
    running = select(BulkRun.id).where(col(BulkRun.status) == RunStatus.RUNNING)
    return (
        select(RunItem.claimed_by)
        .where(col(RunItem.run_id).in_(running.scalar_subquery()))
        .where(col(RunItem.status) == ItemStatus.IN_PROGRESS)
        .where(col(RunItem.claimed_at) >= fresh_since)
        .distinct()
    )


async def runs_with_status(*, session: AsyncSession, statuses: Sequence[str]) -> list[BulkRun]:
    query = select(BulkRun).where(col(BulkRun.status).in_(list(statuses))).order_by(col(BulkRun.id))
    return list((await session.exec(query)).all())


async def runs_with_unanswered_users(
    *,
    session: AsyncSession,
    status: RunStatus,
    ended_after: datetime,
    ended_before: datetime,
    stale_before: datetime,
) -> list[int]:
    """Runs in `status` that ended between two times and still have users in doubt
    (`_in_doubt`)."""
    query = (
        select(RunItem.run_id)
        .join(BulkRun, col(BulkRun.id) == col(RunItem.run_id))
        .where(col(BulkRun.status) == status)
        .where(col(BulkRun.finished_at) >= ended_after, col(BulkRun.finished_at) < ended_before)
        .where(_in_doubt(stale_before))
        .distinct()
    )
    return [int(run_id) for run_id in (await session.exec(query)).all()]


async def unfinished_items(*, session: AsyncSession, run_id: int) -> int:
    query = (
        select(func.count())
        .select_from(RunItem)
        .where(
            col(RunItem.run_id) == run_id,
            col(RunItem.status).in_([ItemStatus.PENDING, ItemStatus.IN_PROGRESS]),
        )
    )
    return int((await session.exec(query)).one())


ItemPreset = tuple[str, str, str | None] | tuple[str, str, str | None, str]


async def items_with_presets(
    *, session: AsyncSession, run_id: int, items: Iterable[ItemPreset]
) -> int:
    """Insert (email, status, known grant id[, the grant's Nylas credential id]) rows in
    batches; returns how many."""
    written = 0
    batch: list[dict[str, object]] = []
    for row in items:
        batch.append(
            {
                "run_id": run_id,
                "email": row[0],
                "status": row[1],
                "attempts": 0,
                "grant_id": row[2],
                "credential_id": row[3] if len(row) > 3 else "",
            }
        )
        if len(batch) >= INSERT_BATCH:
            await session.exec(insert(RunItem), params=batch)
            written, batch = written + len(batch), []
    if batch:
        await session.exec(insert(RunItem), params=batch)
        written += len(batch)
    return written


async def stream_items(*, session: AsyncSession, run_id: int) -> AsyncIterator[RunItem]:
    query = select(RunItem).where(col(RunItem.run_id) == run_id).order_by(col(RunItem.id))
    result = await session.stream_scalars(query.execution_options(yield_per=1000))
    async for item in result:
        yield item


async def recent_runs(*, session: AsyncSession, ended_since: datetime) -> list[BulkRun]:
    """Every run not yet ended, and the runs that ended (finished, cancelled or rejected) since
    `ended_since`; newest first."""
    ended_at = func.coalesce(col(BulkRun.finished_at), col(BulkRun.decided_at))
    query = (
        select(BulkRun)
        .where(
            or_(
                col(BulkRun.status).in_(ACTIVE_RUN_STATUSES),
                col(BulkRun.status).in_(ENDED_RUN_STATUSES) & (ended_at >= ended_since),
            )
        )
        .order_by(col(BulkRun.id).desc())
    )
    return list((await session.exec(query)).all())


async def run_counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """How many runs are in each status (statuses with none are absent)."""
    query = select(BulkRun.status, func.count()).group_by(col(BulkRun.status))
    return {status: int(count) for status, count in (await session.exec(query)).all()}


async def list_runs(
    *, session: AsyncSession, statuses: Sequence[str] = (), limit: int = 50
) -> list[BulkRun]:
    """The newest runs, optionally only those in `statuses`."""
    query = select(BulkRun).order_by(col(BulkRun.id).desc()).limit(limit)
    if statuses:
        query = query.where(col(BulkRun.status).in_(list(statuses)))
    return list((await session.exec(query)).all())


async def item_counts_of_runs(
    *, session: AsyncSession, run_ids: Sequence[int]
) -> dict[int, Counter[str]]:
    """Items per status of each run, in one query."""
    counts: dict[int, Counter[str]] = {run_id: Counter() for run_id in run_ids}
    if not run_ids:
        return counts
    rows = await session.exec(
        select(RunItem.run_id, RunItem.status, func.count())
        .where(col(RunItem.run_id).in_(list(run_ids)))
        .group_by(col(RunItem.run_id), col(RunItem.status))
    )
    for run_id, status, count in rows.all():
        counts[run_id][str(status)] = int(count)
    return counts


async def grants_by_credential(*, session: AsyncSession) -> dict[int, int]:
    """Mailboxes given a grant (created or re-authenticated) by the runs of each credential."""
    rows = await session.exec(
        select(BulkRun.credential_id, func.count(func.distinct(RunItem.email)))
        .join(RunItem, col(RunItem.run_id) == col(BulkRun.id))
        .where(col(RunItem.status).in_(GRANTED_ITEM_STATUSES))
        .where(col(BulkRun.credential_id).is_not(None))
        .group_by(col(BulkRun.credential_id))
    )
    return {int(owner): int(count) for owner, count in rows.all() if owner is not None}


async def created_grants(*, session: AsyncSession, run_id: int) -> dict[str, str]:
    """The grants a run created (email -> grant id): not those it re-authenticated or skipped."""
    rows = await session.exec(
        select(RunItem.email, RunItem.grant_id)
        .where(col(RunItem.run_id) == run_id)
        .where(col(RunItem.status) == ItemStatus.CREATED)
        .where(col(RunItem.grant_id).is_not(None))
        .order_by(col(RunItem.id))
    )
    return {str(email): str(grant_id) for email, grant_id in rows.all()}
