"""Rejected webhook requests, audited without letting a flood fill the audit log.

The webhook URL is public. The first rejection of each clock minute is audited at once (an
operator sees a wrong secret or a forgery right away, with its reason); the others of that
minute are only counted, and written as one event with their count and reasons when the minute
is over (or at shutdown). A flood of 10,000 forged requests is two audit events a minute."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from bot.audit.refusals import RefusalAudit, held_event, minute_of
from bot.logs import log_event
from bot.runtime.scheduling import Scheduler
from storage.audit import Actor, AuditAction, EventSpec
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
WEBHOOK_ACTOR = Actor("nylas-webhook", "webhook request")


class WebhookRejections(RefusalAudit):
    def __init__(self, *, sessions: Sessions, scheduler: Scheduler) -> None:
        super().__init__(sessions=sessions, scheduler=scheduler, job_id="webhook-rejections")
        self._held: dict[datetime, Counter[str]] = {}
        self._audited_minutes: set[datetime] = set()

    async def rejected(self, reason: str, peer: str | None) -> None:
        log_event(log, "webhook.rejected", logging.WARNING, reason=reason, remote=peer)
        minute = minute_of(utcnow())
        if minute not in self._audited_minutes:
            self._audited_minutes = {minute}
            details = {"reason": reason, "remote": peer or "unknown"}
            spec = EventSpec(
                WEBHOOK_ACTOR, AuditAction.WEBHOOK_REJECTED, outcome="rejected", details=details
            )
            await self._write([spec])
            return
        self._held.setdefault(minute, Counter())[reason] += 1

    def _closed(self, current: datetime, *, everything: bool) -> list[EventSpec]:
        return [
            held_event(WEBHOOK_ACTOR, AuditAction.WEBHOOK_REJECTED, minute, self._held.pop(minute))
            for minute in [m for m in self._held if everything or m < current]
        ]
