"""What calls without a usable answer may have done at Nylas. A call that timed out, lost its
connection or met a 5xx may have acted all the same; its user keeps that attempt
(`HandBack.SENT`) and is looked up at Nylas before it is sent again, given up, or, once its run
is cancelled, instead:
- a grant run's user by List Grants by email: a grant found is recorded and audited like any
  other (`found_at_nylas`);
- a revocation's user by its grant's own page (GET /v3/grants/{id}): a 404 says the DELETE (or
  someone else) deleted it, recorded and audited as revoked ("already revoked").

Nylas's filtered lists can lag a fresh grant, and a DELETE the bot stopped waiting for may still
be under way at Nylas, so the look right after a cancel (for the run's report) leaves the users it
finds nothing done for in doubt, and only a final look, at least BULKAUTH_LOOKUP_DELAY_SECONDS
later (the engine's scan), clears them (`HandBack.CHECKED`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError, NylasNotFound
from bot.nylas.models import Grant, GrantFilters
from bot.runs.execution.actions import revokes
from bot.runs.execution.outcomes import Outcome, RunContext, found_earlier, made_earlier, revoked
from bot.runs.execution.recording import db_retrying, record_outcomes
from storage.db import Sessions
from storage.models import as_utc, utcnow
from storage.runs import ClaimedItem, HandBack, claim_items

log = logging.getLogger(__name__)


async def grant_made_earlier(
    nylas: NylasClient, context: RunContext, item: ClaimedItem
) -> Grant | None:
    """The grant an earlier attempt of this run made for the user, if Nylas lists it."""
    started = context.run.started_at
    since = int(as_utc(started).timestamp()) if started else 0
    grants = await nylas.list_grants(GrantFilters(email=item.email))
    return made_earlier(grants, context, since=since)


async def done_at_nylas(
    nylas: NylasClient, context: RunContext, item: ClaimedItem
) -> Outcome | None:
    """The outcome Nylas shows for a user whose calls went unanswered: the grant one of them
    made, or the grant a revocation's DELETE removed; None when Nylas shows nothing done."""
    if revokes(context):
        if not item.known_grant_id:
            return None
        try:
            await nylas.get_grant(item.known_grant_id)
        except NylasNotFound as gone:
            return revoked(item, gone.request_id, already_gone=True)
        return None
    if item.known_grant_id:  # the user's grant was there before the run
        return None
    found = await grant_made_earlier(nylas, context, item)
    return found_earlier(item, found) if found is not None else None


@dataclass(frozen=True)
class LookupLimits:
    batch: int  # users looked up at a time
    lease: timedelta  # a claim older than this was left by a stopped worker
    record_retry_seconds: float


async def _look_up(
    nylas: NylasClient, context: RunContext, item: ClaimedItem, *, final: bool
) -> Outcome:
    try:
        done = await done_at_nylas(nylas, context, item)
    except Exception as error:  # still in doubt: a later look tries again
        if not isinstance(error, NylasError):
            log.exception("run %s: unexpected error looking up one user", context.run_id)
        return Outcome(item, None)
    if done is not None:
        return done
    return Outcome(item, None, hand_back=HandBack.CHECKED if final else HandBack.SENT)


async def look_up_unanswered(
    *,
    context: RunContext,
    sessions: Sessions,
    nylas: NylasClient,
    worker_id: str,
    limits: LookupLimits,
    final: bool,
) -> tuple[int, bool]:
    """Look up the users in doubt of an ended run, a batch at a time (one batch unless `final`:
    the others wait for the final look); returns how many grants were found and whether none is
    left in doubt."""
    found = 0
    while True:
        async for attempt in db_retrying(limits.record_retry_seconds):
            with attempt:
                async with sessions() as session:
                    claimed = await claim_items(
                        session=session,
                        run_id=context.run_id,
                        worker_id=worker_id,
                        limit=limits.batch,
                        stale_before=utcnow() - limits.lease,
                        unanswered_only=True,
                    )
                    await session.commit()
        if not claimed:
            return found, True
        outcomes = list(
            await asyncio.gather(*(_look_up(nylas, context, item, final=final) for item in claimed))
        )
        async for attempt in db_retrying(limits.record_retry_seconds):
            with attempt:
                await record_outcomes(sessions, outcomes, context, worker_id=worker_id)
        found += sum(outcome.status is not None for outcome in outcomes)
        if any(outcome.hand_back == HandBack.SENT for outcome in outcomes if not outcome.status):
            return found, False
