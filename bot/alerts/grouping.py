"""Folding grant events into alerts: per credential, every event within the window of the
credential's open alert joins it; the first event after the window opens a new one. Runs in the
webhook processor's transaction, under an advisory lock on PostgreSQL, so replicas never open
two alerts for one credential and window, and a crash folds nothing twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.alerts import active_mutes, lock_alerts, open_alerts
from storage.models import GrantAlert

ALERTING_TRIGGERS = {"grant.expired": "expired", "grant.deleted": "deleted"}


@dataclass(frozen=True)
class AlertEvent:
    row_id: int  # the inbox row
    trigger: str
    credential_key: str
    credential_name: str
    provider: str | None


async def fold_into_alerts(
    *, session: AsyncSession, events: list[AlertEvent], now: datetime, window: timedelta
) -> dict[int, int]:
    """Count the events into their credentials' alerts; the alert id of each inbox row."""
    alerting = [event for event in events if event.trigger in ALERTING_TRIGGERS]
    if not alerting:
        return {}
    await lock_alerts(session=session)
    keys = sorted({event.credential_key for event in alerting})
    alerts = await open_alerts(session=session, keys=keys, now=now)
    muted = await active_mutes(session=session, keys=keys, now=now)
    first = {event.credential_key: event for event in reversed(alerting)}
    for key in keys:
        if key not in alerts:
            event = first[key]
            alerts[key] = GrantAlert(
                credential_key=key,
                credential_name=event.credential_name,
                provider=event.provider,
                window_start=now,
                window_end=now + window,
                muted=key in muted,
            )
            session.add(alerts[key])
    counts: Counter[tuple[str, str]] = Counter(
        (event.credential_key, ALERTING_TRIGGERS[event.trigger]) for event in alerting
    )
    for (key, kind), count in counts.items():
        alert = alerts[key]
        if kind == "expired":
            alert.expired += count
        else:
            alert.deleted += count
        alert.total += count
    await session.flush()
    return {event.row_id: alerts[event.credential_key].id or 0 for event in alerting}
