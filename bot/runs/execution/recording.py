"""Writing a pass's outcomes: each batch in one transaction (item statuses, hand-backs and
audit events together), retried while the database fails transiently."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from bot.runs.execution.outcomes import Outcome, RunContext, audit_event
from storage.audit import record_events
from storage.db import Sessions
from storage.runs import HandBack, ItemOutcome, finish_items, release_items

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)  # locked, connection lost, failover


def db_retrying(seconds: float) -> AsyncRetrying:
    return AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_DB_ERRORS),
        stop=stop_after_delay(seconds),
        wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
        reraise=True,
    )


async def record_outcomes(
    sessions: Sessions, outcomes: list[Outcome], context: RunContext, *, worker_id: str
) -> list[str]:
    """One transaction and one statement per kind of write (the items' outcomes, the hand-backs,
    the audit events), so a failed attempt leaves nothing half-written; returns the statuses
    recorded (for the metrics, counted once committed, so a retried batch counts once)."""
    handed_back: dict[HandBack, list[int]] = {}
    for outcome in outcomes:
        if outcome.status is None:
            handed_back.setdefault(outcome.hand_back, []).append(outcome.item.id)
    finished = [outcome for outcome in outcomes if outcome.status is not None]
    async with sessions() as session:
        done = await finish_items(
            session=session,
            worker_id=worker_id,
            outcomes=[
                ItemOutcome(
                    item_id=outcome.item.id,
                    status=outcome.status,
                    grant_id=outcome.grant_id,
                    error=outcome.error,
                    request_id=outcome.request_id,
                    problem=outcome.problem.code if outcome.problem else None,
                )
                for outcome in finished
                if outcome.status is not None
            ],
        )
        recorded = [outcome for outcome in finished if outcome.item.id in done]
        for hand_back, item_ids in handed_back.items():
            await release_items(
                session=session, item_ids=item_ids, worker_id=worker_id, hand_back=hand_back
            )
        await record_events(
            session=session, specs=[audit_event(outcome, context) for outcome in recorded]
        )
        await session.commit()
    return [str(outcome.status) for outcome in recorded]
