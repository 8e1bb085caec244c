"""Run items: written in bulk, claimed by several workers without overlap, resumable."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.callers import callers_now
from storage.db import Sessions, create_engine, read_only_sessions, session_factory
from storage.models import BulkRun, ItemStatus, RequestKind, RunItem, RunStatus, utcnow
from storage.runs import (
    ACTIVE_RUN_STATUSES,
    ClaimedItem,
    HandBack,
    ItemOutcome,
    add_items,
    anything_to_claim,
    claim_items,
    finish_item,
    finish_items,
    item_counts,
    items_of,
    pending_left,
    release_items,
    runs_with_unanswered_users,
    transition,
)
from tests.records import acme_run


async def new_run(sessions: Sessions, emails: list[str]) -> int:
    async with sessions() as session:
        _credential_id, run_id = await acme_run(session, total=len(emails))
        await add_items(session=session, run_id=run_id, emails=emails)
        await session.commit()
        return run_id


async def claim_in_session(
    sessions: Sessions,
    run_id: int,
    worker: str,
    *,
    stale_before: datetime,
    unanswered_only: bool = False,
    limit: int = 10,
) -> list[ClaimedItem]:
    """Up to `limit` of the run's items claimed by `worker`, in a session of their own."""
    async with sessions() as session:
        claimed = await claim_items(
            session=session,
            run_id=run_id,
            worker_id=worker,
            limit=limit,
            stale_before=stale_before,
            unanswered_only=unanswered_only,
        )
        await session.commit()
    return claimed


async def work(
    sessions: Sessions,
    run_id: int,
    worker_id: str,
    seen: list[str],
    started: asyncio.Barrier | None = None,
) -> None:
    while True:
        stale = utcnow() - timedelta(minutes=5)
        claimed = await claim_in_session(sessions, run_id, worker_id, stale_before=stale, limit=7)
        if started is not None:  # both workers hold a first claim before either goes on
            await started.wait()
            started = None
        if not claimed:
            return
        await asyncio.sleep(0)  # let the other worker in between claims
        async with sessions() as session:
            for item in claimed:
                seen.append(item.email)
                assert await finish_item(
                    session=session,
                    item_id=item.id,
                    worker_id=worker_id,
                    status=ItemStatus.CREATED,
                    grant_id=f"g-{item.email}",
                )
            await session.commit()


async def test_two_workers_share_a_run_without_taking_an_item_twice(
    database_url: str, engine: AsyncEngine
) -> None:
    emails = [f"user{index}@acme.com" for index in range(1000)]
    run_id = await new_run(session_factory(engine), emails)
    other = create_engine(database_url)
    seen: list[str] = []
    started = asyncio.Barrier(2)  # a loaded machine may not schedule them fairly otherwise
    try:
        await asyncio.gather(
            work(session_factory(engine), run_id, "worker-a", seen, started),
            work(session_factory(other), run_id, "worker-b", seen, started),
        )
    finally:
        await other.dispose()
    assert sorted(seen) == sorted(emails)
    async with session_factory(engine)() as session:
        assert await item_counts(session=session, run_id=run_id) == {"created": 1000}
        items = await items_of(session=session, run_id=run_id)
    assert {item.claimed_by for item in items} == {"worker-a", "worker-b"}
    assert all(item.attempts == 1 for item in items)


async def test_stale_claims_are_taken_over_and_the_old_worker_cannot_finish_them(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com"])
    async with sessions() as session:
        first = await claim_items(
            session=session,
            run_id=run_id,
            worker_id="crashed",
            limit=10,
            stale_before=utcnow() - timedelta(minutes=5),
        )
        await session.commit()
    async with sessions() as session:
        fresh = await claim_items(
            session=session,
            run_id=run_id,
            worker_id="new",
            limit=10,
            stale_before=utcnow() - timedelta(minutes=5),
        )
        assert fresh == []  # still within the crashed worker's lease
        retaken = await claim_items(
            session=session,
            run_id=run_id,
            worker_id="new",
            limit=10,
            stale_before=utcnow() + timedelta(seconds=1),
        )
        await session.commit()
    assert {item.email for item in retaken} == {item.email for item in first}
    assert all(item.attempts == 2 for item in retaken)
    async with sessions() as session:
        assert not await finish_item(
            session=session, item_id=first[0].id, worker_id="crashed", status=ItemStatus.FAILED
        )
        assert await finish_item(
            session=session, item_id=first[0].id, worker_id="new", status=ItemStatus.CREATED
        )
        await session.commit()


async def claim_all(
    sessions: Sessions, run_id: int, worker_id: str, *, limit: int = 100
) -> list[ClaimedItem]:
    async with sessions() as session:
        claimed = await claim_items(
            session=session,
            run_id=run_id,
            worker_id=worker_id,
            limit=limit,
            stale_before=utcnow() - timedelta(minutes=5),
        )
        await session.commit()
    return claimed


async def test_a_batch_of_outcomes_is_one_statement_and_skips_items_taken_over(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com", "c@acme.com"])
    a, b, c = await claim_all(sessions, run_id, "worker-a")
    async with sessions() as session:  # c's claim went stale and another worker took it
        await session.exec(update(RunItem).where(col(RunItem.id) == c.id).values(claimed_by="b"))
        await session.commit()
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "UPDATE run_item" in statement:
            updates.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with sessions() as session:
            done = await finish_items(
                session=session,
                worker_id="worker-a",
                outcomes=[
                    ItemOutcome(a.id, ItemStatus.CREATED, grant_id="g-a", request_id="r-a"),
                    ItemOutcome(b.id, ItemStatus.FAILED, error="nope", problem="p"),
                    ItemOutcome(c.id, ItemStatus.CREATED, grant_id="g-c"),
                ],
            )
            await session.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert done == {a.id, b.id} and len(updates) == 1
    async with sessions() as session:
        items = {item.email: item for item in await items_of(session=session, run_id=run_id)}
    assert (items["a@acme.com"].status, items["a@acme.com"].grant_id) == ("created", "g-a")
    assert items["a@acme.com"].request_id == "r-a" and items["a@acme.com"].finished_at
    assert (items["b@acme.com"].status, items["b@acme.com"].last_error) == ("failed", "nope")
    assert items["b@acme.com"].problem == "p" and items["b@acme.com"].grant_id is None
    assert items["c@acme.com"].status == "in_progress"  # left to the worker that holds it


async def test_live_workers_are_those_with_fresh_claims_on_running_runs(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com"])

    async def move(from_status: str, to_status: str) -> None:
        async with sessions() as session:
            await transition(
                session=session, run_id=run_id, from_statuses=[from_status], to_status=to_status
            )
            await session.commit()

    async def live(fresh_since: datetime) -> set[str]:
        async with sessions() as session:
            callers = await callers_now(
                session=session, claims_since=fresh_since, words_since=fresh_since
            )
        return callers.claiming

    await move(RunStatus.AWAITING_APPROVAL, RunStatus.RUNNING)
    await claim_all(sessions, run_id, "replica-1")
    assert await live(utcnow() - timedelta(minutes=1)) == {"replica-1"}
    assert await live(utcnow() + timedelta(seconds=1)) == set()  # its heartbeat went stale
    await move(RunStatus.RUNNING, RunStatus.FINISHED)
    assert await live(utcnow() - timedelta(minutes=1)) == set()  # only running runs count


async def test_the_users_left_to_claim_are_counted_up_to_a_bound(sessions: Sessions) -> None:
    run_id = await new_run(sessions, [f"user{index}@acme.com" for index in range(6)])
    await claim_all(sessions, run_id, "replica-1", limit=2)

    async def left(most: int) -> int:
        async with sessions() as session:
            return await pending_left(session=session, run_id=run_id, most=most)

    assert await left(most=100) == 4  # the two claimed are no longer waiting
    assert await left(most=3) == 3  # a bounded look, however many wait


async def test_there_is_something_to_claim_exactly_when_a_claim_finds_it(
    sessions: Sessions,
) -> None:
    """A pass started while the others hold a run's last users ends before its canary's word;
    one finds a user waiting, or one a stopped worker left (its claim stale), as a claim does."""
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com"])

    async def claimable(worker: str, stale_before: datetime) -> tuple[bool, bool]:
        async with read_only_sessions(sessions)() as session:
            said = await anything_to_claim(
                session=session, run_id=run_id, worker_id=worker, stale_before=stale_before
            )
        found = await claim_in_session(sessions, run_id, worker, stale_before=stale_before)
        return said, bool(found)

    lease_start = utcnow() - timedelta(minutes=5)
    assert await claimable("first", lease_start) == (True, True)  # both users, now the first's
    assert await claimable("second", lease_start) == (False, False)  # the first holds them
    expired = utcnow() + timedelta(seconds=1)
    assert await claimable("first", expired) == (False, False)  # its own, still in flight
    assert await claimable("second", expired) == (True, True)  # the first stopped: stale


async def test_a_read_only_session_reads_while_a_writer_holds_the_lock(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com"])
    readers = read_only_sessions(sessions)
    async with sessions() as writer:  # on SQLite: BEGIN IMMEDIATE, the database's write lock
        await writer.exec(update(BulkRun).where(col(BulkRun.id) == run_id).values(total=7))
        async with asyncio.timeout(5), readers() as reader:  # not the 30 s busy timeout
            before = await reader.get(BulkRun, run_id)
            assert before is not None and before.total == 1  # the committed snapshot
        await writer.commit()
    async with readers() as reader:
        after = await reader.get(BulkRun, run_id)
    assert after is not None and after.total == 7


async def test_attempts_count_only_unanswered_calls_and_only_those_users_are_looked_up(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com", "c@acme.com"])
    stale = utcnow() - timedelta(minutes=5)

    async def claim(worker: str, *, unanswered_only: bool = False) -> list[ClaimedItem]:
        return await claim_in_session(
            sessions, run_id, worker, stale_before=stale, unanswered_only=unanswered_only
        )

    async def hand_back(worker: str, ids: list[int], how: HandBack) -> None:
        async with sessions() as session:
            await release_items(session=session, item_ids=ids, worker_id=worker, hand_back=how)
            await session.commit()

    a, b, c = await claim("w1")
    assert (a.attempts, b.attempts, c.attempts) == (1, 1, 1)
    await hand_back("w1", [a.id], HandBack.SENT)  # its call went unanswered
    await hand_back("w1", [b.id, c.id], HandBack.UNSENT)  # stopped before they were sent
    assert await claim("w2", unanswered_only=True) == [
        ClaimedItem(id=a.id, email=a.email, attempts=1)  # looked up without counting an attempt
    ]
    await hand_back("w2", [a.id], HandBack.CHECKED)  # Nylas has no grant from it
    assert [(item.email, item.attempts) for item in await claim("w3")] == [
        ("a@acme.com", 1),
        ("b@acme.com", 1),
        ("c@acme.com", 1),
    ]


async def cancel_now(session: AsyncSession, run_id: int) -> None:
    assert await transition(
        session=session,
        run_id=run_id,
        from_statuses=ACTIVE_RUN_STATUSES,
        to_status=RunStatus.CANCELLED,
        finished_at=utcnow(),
    )


async def test_a_claim_left_by_a_stopped_worker_in_an_ended_run_is_looked_up(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com"])
    async with sessions() as session:
        [a, _b] = await claim_items(
            session=session, run_id=run_id, worker_id="w1", limit=2, stale_before=utcnow()
        )
        await cancel_now(session, run_id)
        await session.commit()
    # w1 stopped mid-call (its claims are never handed back); once they are stale, both users
    # are in doubt: their calls may have gone out.
    later = utcnow() + timedelta(minutes=2)
    async with sessions() as session:
        doubtful = await runs_with_unanswered_users(
            session=session,
            status=RunStatus.CANCELLED,
            ended_after=utcnow() - timedelta(hours=1),
            ended_before=later,
            stale_before=later,
        )
        fresh, stale = [
            await claim_items(
                session=session,
                run_id=run_id,
                worker_id="w2",
                limit=10,
                stale_before=cutoff,
                unanswered_only=True,
            )
            for cutoff in (utcnow() - timedelta(minutes=1), later)
        ]
        await session.commit()
    assert (doubtful, fresh) == ([run_id], [])  # a fresh claim may still be in flight
    assert [(item.email, item.attempts) for item in stale] == [
        ("a@acme.com", 1),
        ("b@acme.com", 1),
    ]
    assert stale[0].id == a.id


async def test_runs_with_unanswered_users_are_the_recently_ended_ones_in_doubt(
    sessions: Sessions,
) -> None:
    run_id = await new_run(sessions, ["a@acme.com", "b@acme.com"])
    async with sessions() as session:
        await session.exec(
            update(RunItem).where(col(RunItem.email) == "a@acme.com").values(attempts=2)
        )
        await cancel_now(session, run_id)
        await session.commit()
        hour_ago, now = utcnow() - timedelta(hours=1), utcnow()
        window = {"ended_after": hour_ago, "ended_before": now + timedelta(1), "stale_before": now}
        found = await runs_with_unanswered_users(
            session=session, status=RunStatus.CANCELLED, **window
        )
        later = await runs_with_unanswered_users(
            session=session,
            status=RunStatus.CANCELLED,
            ended_after=hour_ago,
            ended_before=hour_ago,  # it ended after that: not yet due
            stale_before=now,
        )
        # a user whose grant was there at planning: a grant call made none (re-authenticated)
        await session.exec(update(RunItem).values(grant_id="grant-a"))
        known_grant = await runs_with_unanswered_users(
            session=session, status=RunStatus.CANCELLED, **window
        )
        # but a revocation's DELETE of that grant may have deleted it
        await session.exec(update(BulkRun).values(kind=RequestKind.REVOKE))
        revocations = await runs_with_unanswered_users(
            session=session, status=RunStatus.CANCELLED, **window
        )
        await session.commit()
    assert (found, later, known_grant, revocations) == ([run_id], [], [], [run_id])
    claimed = await claim_in_session(
        sessions, run_id, "looker", stale_before=utcnow(), unanswered_only=True
    )
    assert [(item.email, item.known_grant_id) for item in claimed] == [("a@acme.com", "grant-a")]
