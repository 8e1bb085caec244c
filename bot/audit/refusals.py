"""Refused requests to a public URL (consent callbacks, webhooks), audited per clock minute so a
flood cannot fill the audit log: the first are written at once, the rest are held and written as
one `rate_limited` event with their count and reasons when the minute is over (or at shutdown)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from bot.runtime.scheduling import Scheduler
from storage.audit import Actor, AuditAction, EventSpec, record_events
from storage.db import Sessions
from storage.models import utcnow

FLUSH_EVERY_SECONDS = 15


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def held_event(
    actor: Actor, action: AuditAction, minute: datetime, reasons: Counter[str]
) -> EventSpec:
    """One event for the refusals of `minute` that were held rather than written."""
    details = {
        "count": sum(reasons.values()),
        "minute": minute.isoformat(),
        "reasons": dict(reasons),
    }
    return EventSpec(actor, action, outcome="rate_limited", details=details)


class RefusalAudit:
    """Writes refusals now, or the held ones at the next flush (every few seconds, and with
    `everything` at shutdown). Subclasses say which minutes are over in `_closed`."""

    def __init__(self, *, sessions: Sessions, scheduler: Scheduler, job_id: str) -> None:
        self._sessions = sessions
        self._scheduler = scheduler
        self._job_id = job_id

    def start(self) -> None:
        self._scheduler.every(self.flush, seconds=FLUSH_EVERY_SECONDS, id=self._job_id)

    async def flush(self, *, everything: bool = False) -> None:
        await self._write(self._closed(minute_of(utcnow()), everything=everything))

    def _closed(self, current: datetime, *, everything: bool) -> list[EventSpec]:
        """Take the held refusals of the minutes before `current` (all if `everything`)."""
        raise NotImplementedError

    async def _write(self, specs: list[EventSpec]) -> None:
        if not specs:
            return
        async with self._sessions() as session:
            await record_events(session=session, specs=specs)
            await session.commit()
