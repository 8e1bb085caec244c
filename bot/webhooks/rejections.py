"""Rejected webhook requests, audited without letting a flood fill the audit log.

The webhook URL is public. The first rejection of each clock minute is audited at once (an
operator sees a wrong secret or a forgery right away, with its reason); the others of that
minute are only counted, and written as one event with their count and reasons when the minute
is over (or at shutdown). A flood of 10,000 forged requests is two audit events a minute."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from bot.logs import log_event
from bot.runtime.scheduling import Scheduler
from storage.audit import Actor, AuditAction, EventSpec, record_events
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
FLUSH_EVERY_SECONDS = 15
WEBHOOK_ACTOR = Actor("nylas-webhook", "webhook request")


def _minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class WebhookRejections:
    def __init__(self, *, sessions: Sessions, scheduler: Scheduler) -> None:
        self._sessions = sessions
        self._scheduler = scheduler
        self._held: dict[datetime, Counter[str]] = {}
        self._audited_minutes: set[datetime] = set()

    def start(self) -> None:
        self._scheduler.add_job(
            self.flush,
            trigger="interval",
            seconds=FLUSH_EVERY_SECONDS,
            id="webhook-rejections",
            coalesce=True,
            max_instances=1,
        )

    async def rejected(self, reason: str, peer: str | None) -> None:
        log_event(log, "webhook.rejected", logging.WARNING, reason=reason, remote=peer)
        minute = _minute_of(utcnow())
        if minute not in self._audited_minutes:
            self._audited_minutes = {minute}
            details = {"reason": reason, "remote": peer or "unknown"}
            spec = EventSpec(
                WEBHOOK_ACTOR, AuditAction.WEBHOOK_REJECTED, outcome="rejected", details=details
            )
            await self._write([spec])
            return
        self._held.setdefault(minute, Counter())[reason] += 1

    async def flush(self, *, everything: bool = False) -> None:
        current = _minute_of(utcnow())
        specs = []
        for minute in [m for m in self._held if everything or m < current]:
            reasons = self._held.pop(minute)
            details = {
                "count": sum(reasons.values()),
                "minute": minute.isoformat(),
                "reasons": dict(reasons),
            }
            specs.append(
                EventSpec(
                    WEBHOOK_ACTOR,
                    AuditAction.WEBHOOK_REJECTED,
                    outcome="rate_limited",
                    details=details,
                )
            )
        await self._write(specs)

    async def _write(self, specs: list[EventSpec]) -> None:
        if not specs:
            return
        async with self._sessions() as session:
            await record_events(session=session, specs=specs)
            await session.commit()
