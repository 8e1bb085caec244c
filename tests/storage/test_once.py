"""`claim_once`: the first insert of a key wins, on SQLite and PostgreSQL, also when several
sessions race for it."""

from __future__ import annotations

import asyncio

from storage.db import Sessions
from storage.models import utcnow
from storage.once import claim_once, last_claimed


async def test_a_key_is_claimed_once_and_the_newest_claim_is_known(sessions: Sessions) -> None:
    async with sessions() as session:
        assert await last_claimed(session=session, prefix="sweep:") is None
        assert await claim_once(session=session, key="sweep:1", claimed_by="a", now=utcnow())
        assert not await claim_once(session=session, key="sweep:1", claimed_by="b", now=utcnow())
        assert await claim_once(session=session, key="other:1", claimed_by="b", now=utcnow())
        assert await last_claimed(session=session, prefix="sweep:") is not None


async def test_racing_sessions_claim_a_key_exactly_once(sessions: Sessions) -> None:
    async def claim(worker: str) -> bool:
        async with sessions() as session:
            return await claim_once(
                session=session, key="sweep:race", claimed_by=worker, now=utcnow()
            )

    results = await asyncio.gather(*(claim(f"w{index}") for index in range(6)))
    assert sorted(results) == [False] * 5 + [True]
