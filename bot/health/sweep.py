"""The health sweep: every `BULKAUTH_HEALTH_SWEEP_HOURS`, exactly one replica lists the grants
Nylas marks invalid (per provider, every page), matches them to the registered credentials,
stores each credential's snapshot, audits what changed since the last sweep (actor `sweep`) and
hands the newly invalid grants to the alert sink.

Periods are aligned to the Unix epoch in UTC (24 h: midnight to midnight). Each replica's
APScheduler job fires at every period boundary; the first to insert the period's key
(`storage/once.py`) sweeps. At start, a replica whose database saw a sweep before but none in
the current period sweeps at once (a boundary passed while every replica was down); a new
installation waits for its first boundary.

The sweep asks for at most `SWEEP_SHARE` of `BULKAUTH_NYLAS_RPS` (a page of 200 grants per
request), through the same client and rate limit as runs, so a running run keeps at least the
other nine tenths."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.health.alerts import GrantAlertSink
from bot.health.grants import PROVIDERS, by_credential, list_grants
from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasError
from bot.nylas.models import Grant
from bot.nylas.throttle import Throttle
from bot.runtime.scheduling import Scheduler
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.credentials import list_credentials
from storage.db import Sessions
from storage.health import Changes, record_sweep
from storage.models import CredentialRecord, OnceClaim, as_utc, utcnow
from storage.once import claim_once, last_claimed

log = logging.getLogger(__name__)
SWEEP_ACTOR = Actor(id="sweep", name="health sweep")
KEY_PREFIX = "sweep:"
SWEEP_SHARE = 0.1  # of the shared Nylas rate, for the sweep's pages
MIN_PAGES_PER_SECOND = 1.0


def period_start(now: datetime, hours: float) -> datetime:
    seconds = hours * 3600
    epoch = as_utc(now).timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def page_gate(rate: float) -> Callable[[], Awaitable[None]]:
    """At most SWEEP_SHARE of the rate (at least one page a second) for the sweep's pages."""
    pace = Throttle(rate_per_second=max(MIN_PAGES_PER_SECOND, rate * SWEEP_SHARE), concurrency=1)

    async def gate() -> None:
        async with pace.slot():  # paced on the way in; the page itself goes through the client
            pass

    return gate


class HealthSweep:
    def __init__(
        self,
        *,
        sessions: Sessions,
        nylas: NylasClient,
        scheduler: Scheduler,
        alerts: GrantAlertSink,
        hours: float,
        worker_id: str,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`after` is called when a sweep has been recorded (the App Home redraws)."""
        self._sessions = sessions
        self._nylas = nylas
        self._scheduler = scheduler
        self._alerts = alerts
        self._hours = hours
        self._worker_id = worker_id
        self._after = after

    async def start(self) -> None:
        """The job at every period boundary, and at once when a boundary passed unswept."""
        now = utcnow()
        current = period_start(now, self._hours)
        self._scheduler.every(
            self.tick,
            seconds=self._hours * 3600,
            id="health-sweep",
            start_date=current + timedelta(hours=self._hours),
            misfire_grace_time=None,
        )
        async with self._sessions() as session:
            last = await last_claimed(session=session, prefix=KEY_PREFIX)
        if last is not None and as_utc(last) < current:
            self._scheduler.add_job(self.tick, trigger="date", run_date=now, id="health-catch-up")

    async def tick(self) -> None:
        await self.sweep_if_due()

    async def sweep_if_due(self) -> bool:
        """Sweep if this period is not swept yet (by any replica); True when this one swept."""
        now = utcnow()
        key = f"{KEY_PREFIX}{period_start(now, self._hours).isoformat()}"
        async with self._sessions() as session:
            if not await claim_once(session=session, key=key, claimed_by=self._worker_id, now=now):
                return False
        try:
            await self.sweep(now)
        except NylasError as error:
            # Nylas could not be read: give the period back, so a replica's next start (or
            # the next period) sweeps.
            log_event(log, "health.sweep_failed", error=type(error).__name__)
            async with self._sessions() as session:
                claim = await session.get(OnceClaim, key)
                if claim is not None:
                    await session.delete(claim)
                    await session.commit()
            return False
        return True

    async def sweep(self, now: datetime) -> dict[int, Changes]:
        async with self._sessions() as session:
            credentials = await list_credentials(session=session)
        found: dict[int, list[Grant]] = {c.id: [] for c in credentials if c.id is not None}
        gate = page_gate(self._nylas.rate_per_second)
        for provider in PROVIDERS:
            if any(c.provider == provider for c in credentials):
                grants = await list_grants(self._nylas, provider, status="invalid", gate=gate)
                found.update(await by_credential(self._sessions, credentials, provider, grants))
        changes = {
            credential.id: await self._record(credential, found[credential.id], now)
            for credential in credentials
            if credential.id is not None
        }
        log_event(
            log,
            "health.swept",
            credentials=len(credentials),
            invalid=sum(len(grants) for grants in found.values()),
            newly_invalid=sum(len(c.newly_invalid) for c in changes.values()),
            recovered=sum(len(c.recovered) for c in changes.values()),
        )
        for credential_id, change in changes.items():
            newly = [g for g in found[credential_id] if g.id in change.newly_invalid]
            if newly:
                await self._alerts.grants_became_invalid(credential_id, newly, source="sweep")
        if self._after is not None:
            await self._after()
        return changes

    async def _record(
        self, credential: CredentialRecord, invalid: list[Grant], now: datetime
    ) -> Changes:
        """The snapshot and the audit of its changes, in one transaction."""
        assert credential.id is not None
        nylas_id = credential.nylas_credential_id
        async with self._sessions() as session:
            changes = await record_sweep(
                session=session,
                credential_id=credential.id,
                invalid={grant.id: grant.email for grant in invalid},
                now=now,
            )
            specs = [
                EventSpec(
                    actor=SWEEP_ACTOR,
                    action=action,
                    subject=Subject(credential_id=nylas_id, email=email, grant_id=grant_id),
                    details={"source": "sweep"},
                )
                for action, grants in (
                    (AuditAction.GRANT_FOUND_INVALID, changes.newly_invalid),
                    (AuditAction.GRANT_RECOVERED, changes.recovered),
                )
                for grant_id, email in grants.items()
            ]
            specs.append(
                EventSpec(
                    actor=SWEEP_ACTOR,
                    action=AuditAction.HEALTH_SWEPT,
                    subject=Subject(credential_id=nylas_id),
                    details={
                        "invalid": len(invalid),
                        "newly_invalid": len(changes.newly_invalid),
                        "recovered": len(changes.recovered),
                    },
                )
            )
            await record_events(session=session, specs=specs)
            await session.commit()
        return changes
