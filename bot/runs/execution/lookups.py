"""Grants that calls without a usable answer may have made. A call that timed out, lost its
connection or met a 5xx may have made the grant all the same; its user keeps that attempt
(`HandBack.SENT`) and is looked up at Nylas (List Grants by email) before it is sent again or,
once its run is cancelled, instead. A grant found is recorded and audited like any other
(`found_at_nylas`); a user Nylas has none for is handed back with no attempt left to doubt."""

from __future__ import annotations

import asyncio

from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError
from bot.nylas.models import Grant, GrantFilters
from bot.runs.execution.outcomes import Outcome, RunContext, found_earlier, made_earlier
from bot.runs.execution.recording import record_outcomes
from storage.db import Sessions
from storage.models import as_utc, utcnow
from storage.runs import ClaimedItem, HandBack, claim_items


async def grant_made_earlier(
    nylas: NylasClient, context: RunContext, item: ClaimedItem
) -> Grant | None:
    """(Nylas's filtered lists can lag fresh grants; missing one only means the user is
    re-authenticated, once more, or left pending by a cancel.)"""
    started = context.run.started_at
    since = int(as_utc(started).timestamp()) if started else 0
    grants = await nylas.list_grants(GrantFilters(email=item.email))
    return made_earlier(grants, context, since=since)


async def _look_up(nylas: NylasClient, context: RunContext, item: ClaimedItem) -> Outcome:
    try:
        found = await grant_made_earlier(nylas, context, item)
    except NylasError:
        return Outcome(item, None)  # still in doubt: the next look tries again
    if found is None:
        return Outcome(item, None, hand_back=HandBack.CHECKED)
    return found_earlier(item, found)


async def look_up_unanswered(
    *,
    context: RunContext,
    sessions: Sessions,
    nylas: NylasClient,
    worker_id: str,
    batch: int,
) -> int:
    """Look up every pending user of an ended run whose calls went unanswered, `batch` at a
    time; returns how many grants were found. Stops early when Nylas fails (they stay in
    doubt, for the next look)."""
    found = 0
    while True:
        async with sessions() as session:
            claimed = await claim_items(
                session=session,
                run_id=context.run_id,
                worker_id=worker_id,
                limit=batch,
                stale_before=utcnow(),
                unanswered_only=True,
            )
            await session.commit()
        if not claimed:
            return found
        outcomes = await asyncio.gather(*(_look_up(nylas, context, item) for item in claimed))
        await record_outcomes(sessions, list(outcomes), context, worker_id=worker_id)
        found += sum(outcome.status is not None for outcome in outcomes)
        if any(outcome.hand_back == HandBack.SENT for outcome in outcomes if not outcome.status):
            return found
