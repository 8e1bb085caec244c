"""What a run does for one user, by the run's kind: a grant or re-authentication run makes a
Custom Authentication call (the worker's `_grant`, which first looks for a grant an earlier
attempt made); a revocation deletes the user's grant found at planning time. A DELETE that
finds no grant (404: an earlier attempt's answer was lost, or someone else deleted it) counts as
done, "already revoked", never as a failure."""

from __future__ import annotations

from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasNotFound
from bot.runs.execution.outcomes import Outcome, RunContext, revoked
from storage.models import RequestKind
from storage.runs import ClaimedItem


def revokes(context: RunContext) -> bool:
    return context.run.kind == RequestKind.REVOKE


async def revoke(nylas: NylasClient, item: ClaimedItem) -> Outcome:
    """DELETE /v3/grants/{id} through the client's shared rate limit and retries."""
    if not item.known_grant_id:  # planned as "no grant": never claimed, but never guess
        return revoked(item, None, already_gone=True)
    try:
        request_id = await nylas.delete_grant(item.known_grant_id)
    except NylasNotFound as gone:
        return revoked(item, gone.request_id, already_gone=True)
    return revoked(item, request_id)
