"""Turns stored notifications into audit events and alert counts, in batches.

Each batch is one transaction: claim unprocessed rows (locked, SKIP LOCKED on PostgreSQL, so
replicas share the inbox), audit each as an event of actor `nylas` linked to the grant's
credential and run (found by grant id, else by mailbox, from what runs recorded), fold the
alerting ones into their credential's alert, and mark them processed. A crash before the commit
leaves them unprocessed for the next pass; after it, they are done: each is processed once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any

from bot.alerts.grouping import AlertEvent, fold_into_alerts
from bot.logs import log_event
from bot.runtime.tasks import cancel_and_wait, wait_event
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.db import Sessions
from storage.models import WebhookNotification, utcnow
from storage.webhooks import (
    GrantOrigin,
    claim_unprocessed,
    grant_origins,
    mark_processed,
    prune_processed,
)

log = logging.getLogger(__name__)
NYLAS_ACTOR = Actor("nylas", "Nylas")
BATCH = 100
GATHER_SECONDS = 0.25
KEEP_PROCESSED = timedelta(days=8)  # Show list reads them; longer than the longest replay window
PRUNE_EVERY = 500  # batches between two prunes
ACTIONS = {
    "grant.created": AuditAction.NYLAS_GRANT_CREATED,
    "grant.updated": AuditAction.NYLAS_GRANT_UPDATED,
    "grant.expired": AuditAction.NYLAS_GRANT_EXPIRED,
    "grant.deleted": AuditAction.NYLAS_GRANT_DELETED,
}
_DETAIL_FIELDS = ("code", "reauthentication_flag", "integration_id", "grant_updated_at")


def credential_of(row: WebhookNotification, origin: GrantOrigin | None) -> tuple[str, str]:
    """The alert's credential key and name: the bot's credential, else the mailbox's domain."""
    if origin is not None:
        return origin.credential_id, origin.credential_name
    domain = (row.email or "").rpartition("@")[2] or "unknown mailboxes"
    return f"domain:{domain}"[:80], domain


def _spec(row: WebhookNotification, origin: GrantOrigin | None) -> EventSpec:
    payload: dict[str, Any] = json.loads(row.payload or "{}")
    details: dict[str, Any] = {"notification": row.notification_id, "provider": row.provider}
    details.update({key: payload[key] for key in _DETAIL_FIELDS if key in payload})
    details["occurred_at"] = row.occurred_at.isoformat()
    return EventSpec(
        NYLAS_ACTOR,
        ACTIONS[row.trigger],
        Subject(
            credential_id=origin.credential_id if origin else None,
            email=row.email,
            grant_id=row.grant_id,
            run_id=origin.run_id if origin else None,
        ),
        outcome="reported",
        details=details,
    )


class WebhookProcessor:
    def __init__(
        self,
        *,
        sessions: Sessions,
        window_seconds: float,
        stored: asyncio.Event,
        published: asyncio.Event,
        poll_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._window = timedelta(seconds=window_seconds)
        self._stored = stored
        self._published = published
        self._poll = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._batches = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="webhook-processor")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            try:
                while await self.process_batch():
                    pass
            except Exception as error:  # the database failed; the rows wait for the next pass
                log.error("webhooks: processing failed", exc_info=error)
            await wait_event(self._stored, at_most=self._poll)
            # Let a burst gather: fewer, larger transactions leave the database's write lock
            # to the endpoint's inserts (whose answers Nylas waits for) most of the time.
            await asyncio.sleep(GATHER_SECONDS)
            self._stored.clear()

    async def process_batch(self) -> int:
        """Process one batch; how many notifications it held."""
        now, began = utcnow(), time.monotonic()
        async with self._sessions() as session:
            rows = await claim_unprocessed(session=session, limit=BATCH)
            if not rows:
                return 0
            by_grant, by_email = await grant_origins(
                session=session,
                grant_ids=[row.grant_id for row in rows if row.grant_id],
                emails=[row.email for row in rows if row.email],
            )
            specs, events = [], []
            for row in rows:
                assert row.id is not None
                origin = by_grant.get(row.grant_id or "") or by_email.get(row.email or "")
                specs.append(_spec(row, origin))
                key, name = credential_of(row, origin)
                provider = origin.provider if origin else row.provider
                events.append(AlertEvent(row.id, row.trigger, key, name, provider))
            await record_events(session=session, specs=specs)
            alerts = await fold_into_alerts(
                session=session, events=events, now=now, window=self._window
            )
            ids = [row.id for row in rows if row.id is not None]
            await mark_processed(session=session, alert_of={i: alerts.get(i) for i in ids}, at=now)
            self._batches += 1
            if self._batches % PRUNE_EVERY == 1:
                await prune_processed(session=session, received_before=now - KEEP_PROCESSED)
            await session.commit()
        log_event(
            log,
            "webhook.processed",
            logging.DEBUG,
            notifications=len(rows),
            alerting=len(alerts),
            seconds=round(time.monotonic() - began, 3),
        )
        self._published.set()
        return len(rows)
