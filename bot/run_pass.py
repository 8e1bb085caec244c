"""One pass of one process over one run: a feeder claims items in batches, senders call Nylas
(paced by the client's shared rate limit), a recorder writes outcomes and audit events in
batches, and a heartbeat keeps this worker's claims fresh."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.nylas.errors import NylasApiError, NylasError
from bot.nylas.models import BulkAuthRequest, Provider
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.models import BulkRun, ItemStatus, utcnow
from storage.runs import ClaimedItem, claim_items, finish_item, refresh_claims, release_items

if TYPE_CHECKING:
    from bot.run_engine import RunEngine

RECORD_BATCH = 200
MAX_ERROR = 500
_OUTCOME_ACTIONS = {
    ItemStatus.CREATED: AuditAction.GRANT_CREATED,
    ItemStatus.REAUTHENTICATED: AuditAction.GRANT_REAUTHENTICATED,
    ItemStatus.FAILED: AuditAction.GRANT_FAILED,
}


@dataclass(frozen=True)
class RunContext:
    run: BulkRun
    run_id: int
    credential_id: str
    provider: Provider
    scopes: list[str]
    requester: Actor
    approver: Actor | None


@dataclass(frozen=True)
class Outcome:
    item: ClaimedItem
    status: ItemStatus | None  # None: hand the item back (not sent, or to be retried)
    grant_id: str | None = None
    error: str | None = None
    request_id: str | None = None


class RunPass:
    def __init__(self, engine: RunEngine, context: RunContext) -> None:
        self._engine = engine
        self._context = context
        self._concurrency = engine.settings.bulkauth_nylas_concurrency
        self._queue: asyncio.Queue[ClaimedItem | None] = asyncio.Queue(
            maxsize=self._concurrency * 2
        )
        self._outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._in_flight = 0
        self._recorded = asyncio.Event()

    async def run(self) -> None:
        beating = asyncio.create_task(self._heartbeat())
        recording = asyncio.create_task(self._record_all())
        try:
            await asyncio.gather(
                self._feed(), *(self._send_all() for _ in range(self._concurrency))
            )
            await self._outcomes.put(None)
            await recording
        finally:
            beating.cancel()
            recording.cancel()

    async def _feed(self) -> None:
        stale = timedelta(seconds=self._engine.settings.bulkauth_item_lease_seconds)
        run_id = self._context.run_id
        while await self._engine.still_running(run_id):
            async with self._engine.sessions() as session:
                claimed = await claim_items(
                    session=session,
                    run_id=run_id,
                    worker_id=self._engine.worker_id,
                    limit=self._concurrency,
                    stale_before=utcnow() - stale,
                )
                await session.commit()
            if not claimed:
                if self._in_flight == 0:
                    break
                self._recorded.clear()
                await self._recorded.wait()  # retries come back as pending items
                continue
            self._in_flight += len(claimed)
            for item in claimed:
                await self._queue.put(item)
        for _ in range(self._concurrency):
            await self._queue.put(None)

    async def _send_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self._engine.should_stop(self._context.run_id):
                await self._outcomes.put(Outcome(item, None))
            else:
                await self._outcomes.put(await self._send(item))

    async def _send(self, item: ClaimedItem) -> Outcome:
        context = self._context
        request = BulkAuthRequest(
            provider=context.provider,
            credential_id=context.credential_id,
            email_address=item.email,
            scopes=context.scopes if context.provider == "google" else None,
        )
        try:
            created = await self._engine.nylas.create_bulk_grant(request)
        except NylasError as error:
            if error.retryable and item.attempts < self._engine.settings.bulkauth_item_attempts:
                return Outcome(item, None)
            message = error.message if isinstance(error, NylasApiError) else error.user_message
            return Outcome(
                item, ItemStatus.FAILED, error=message[:MAX_ERROR], request_id=error.request_id
            )
        status = ItemStatus.REAUTHENTICATED if item.known_grant_id else ItemStatus.CREATED
        return Outcome(item, status, grant_id=created.data.id, request_id=created.request_id)

    async def _record_all(self) -> None:
        done = False
        while not done:
            batch = [await self._outcomes.get()]
            while not self._outcomes.empty() and len(batch) < RECORD_BATCH:
                batch.append(self._outcomes.get_nowait())
            done = None in batch
            finished = [outcome for outcome in batch if outcome is not None]
            await self._record(finished)
            self._in_flight -= len(finished)
            self._recorded.set()
            self._engine.progressed(self._context.run_id)

    async def _record(self, outcomes: list[Outcome]) -> None:
        handed_back = [outcome.item.id for outcome in outcomes if outcome.status is None]
        specs = []
        async with self._engine.sessions() as session:
            for outcome in outcomes:
                if outcome.status is None:
                    continue
                if await finish_item(
                    session=session,
                    item_id=outcome.item.id,
                    worker_id=self._engine.worker_id,
                    status=outcome.status,
                    grant_id=outcome.grant_id,
                    error=outcome.error,
                    request_id=outcome.request_id,
                ):
                    specs.append(self._event(outcome))
            await release_items(
                session=session, item_ids=handed_back, worker_id=self._engine.worker_id
            )
            await record_events(session=session, specs=specs)
            await session.commit()

    def _event(self, outcome: Outcome) -> EventSpec:
        assert outcome.status is not None
        context = self._context
        return EventSpec(
            actor=context.requester,
            action=_OUTCOME_ACTIONS[outcome.status],
            outcome="failed" if outcome.status == ItemStatus.FAILED else "ok",
            subject=Subject(
                credential_id=context.credential_id,
                email=outcome.item.email,
                grant_id=outcome.grant_id,
                run_id=context.run_id,
            ),
            request_id=outcome.request_id,
            details={
                "requested_by": context.requester.id,
                "approved_by": context.approver.id if context.approver else None,
                "attempts": outcome.item.attempts,
                **({"error": outcome.error} if outcome.error else {}),
            },
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._engine.settings.bulkauth_item_lease_seconds / 3)
            async with self._engine.sessions() as session:
                await refresh_claims(session=session, worker_id=self._engine.worker_id)
                await session.commit()
