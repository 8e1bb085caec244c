"""Run items: written in bulk, claimed by several workers without overlap, resumable."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import Sessions, create_engine, session_factory
from storage.models import ItemStatus, utcnow
from storage.runs import add_items, claim_items, finish_item, item_counts, items_of
from tests.records import acme_run


async def new_run(sessions: Sessions, emails: list[str]) -> int:
    async with sessions() as session:
        _credential_id, run_id = await acme_run(session, total=len(emails))
        await add_items(session=session, run_id=run_id, emails=emails)
        await session.commit()
        return run_id


async def work(sessions: Sessions, run_id: int, worker_id: str, seen: list[str]) -> None:
    while True:
        async with sessions() as session:
            claimed = await claim_items(
                session=session,
                run_id=run_id,
                worker_id=worker_id,
                limit=7,
                stale_before=utcnow() - timedelta(minutes=5),
            )
            await session.commit()
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
    try:
        await asyncio.gather(
            work(session_factory(engine), run_id, "worker-a", seen),
            work(session_factory(other), run_id, "worker-b", seen),
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
