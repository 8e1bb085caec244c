"""Rejected consent callbacks, limited and aggregated so junk cannot flood the audit log.

The callback URL is public, so anyone can send it junk. Per source and clock minute, the first
few rejections are audited one by one at once (an operator sees a forged or expired link right
away, with its reason); the rest of that minute are answered 429 without touching the database
and written as one event with their count when the minute is over (or at shutdown).

The source is the TCP peer address, never X-Forwarded-For, which any client can set: behind a
reverse proxy every browser shares the proxy's address, so the limit then applies to all of
them together (the audit stays bounded; valid callbacks are never limited, see bot/callback.py).
IPv6 addresses count per /64, the block one host usually has.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.audit.refusals import RefusalAudit, held_event, minute_of
from bot.runtime.scheduling import Scheduler
from storage.audit import Actor, AuditAction, EventSpec
from storage.db import Sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
AUDITED_AT_ONCE_PER_MINUTE = 5
MAX_SOURCES_PER_MINUTE = 10_000  # beyond this, new sources share one bucket (bounded memory)
OTHER_SOURCES = "other sources"
MINUTE = timedelta(minutes=1)


def source_of(peer: str | None) -> str:
    """The peer address, IPv6 folded to its /64; anything unparsable is named as given."""
    if not peer:
        return "unknown"
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:64]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def callback_actor(source: str) -> Actor:
    return Actor("nylas-callback", f"browser at {source}")


@dataclass
class _Window:
    seen: int = 0
    held: Counter[str] = field(default_factory=Counter)  # rejections beyond the first few


class RejectionGuard(RefusalAudit):
    def __init__(self, *, sessions: Sessions, scheduler: Scheduler) -> None:
        super().__init__(sessions=sessions, scheduler=scheduler, job_id="callback-rejections")
        self._windows: dict[tuple[str, datetime], _Window] = {}

    async def rejected(self, peer: str | None, reason: str) -> int | None:
        """Account for one rejected callback. None: it was audited, answer 400. A number: the
        source is over its limit, answer 429 with that many seconds in Retry-After."""
        now = utcnow()
        minute = minute_of(now)
        source = source_of(peer)
        if (source, minute) not in self._windows and len(self._windows) >= MAX_SOURCES_PER_MINUTE:
            source = OTHER_SOURCES
        window = self._windows.setdefault((source, minute), _Window())
        window.seen += 1
        if window.seen <= AUDITED_AT_ONCE_PER_MINUTE:
            spec = EventSpec(
                callback_actor(source),
                AuditAction.CONSENT_CALLBACK_REJECTED,
                outcome="rejected",
                details={"reason": reason},
            )
            await self._write([spec])
            return None
        window.held[reason] += 1
        return max(1, int((minute + MINUTE - now).total_seconds()))

    def _closed(self, current: datetime, *, everything: bool) -> list[EventSpec]:
        """One event per source for each minute that is over (every minute at shutdown)."""
        specs = []
        for source, minute in [key for key in self._windows if everything or key[1] < current]:
            window = self._windows.pop((source, minute))
            if window.held:
                count = sum(window.held.values())
                log.warning("callback: %d rejected callbacks from %s limited", count, source)
                specs.append(
                    held_event(
                        callback_actor(source),
                        AuditAction.CONSENT_CALLBACK_REJECTED,
                        minute,
                        window.held,
                    )
                )
        return specs
