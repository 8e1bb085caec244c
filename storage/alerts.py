"""Grant alerts: one row per credential and window, counted up by the webhook processor and
published (posted, then edited) by whichever replica claims it; mutes per credential."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AlertMute, GrantAlert

# Replicas folding events into alerts take this transaction-scoped advisory lock on PostgreSQL,
# so two never open two alerts for one credential and window. SQLite has one writer at a time.
ALERT_LOCK_ID = 7_466_310_217


async def lock_alerts(*, session: AsyncSession) -> None:
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(:id)"), params={"id": ALERT_LOCK_ID}
        )


async def open_alerts(
    *, session: AsyncSession, keys: list[str], now: datetime
) -> dict[str, GrantAlert]:
    """The alert each credential's events join now (its window not over), by credential key."""
    found = await session.exec(
        select(GrantAlert)
        .where(col(GrantAlert.credential_key).in_(keys))
        .where(col(GrantAlert.window_end) > now)
        .order_by(col(GrantAlert.id))
    )
    return {alert.credential_key: alert for alert in found.all()}


async def active_mutes(
    *, session: AsyncSession, keys: list[str], now: datetime
) -> dict[str, AlertMute]:
    found = await session.exec(
        select(AlertMute)
        .where(col(AlertMute.credential_key).in_(keys))
        .where(col(AlertMute.muted_until) > now)
    )
    return {mute.credential_key: mute for mute in found.all()}


async def mute(
    *,
    session: AsyncSession,
    credential_key: str,
    until: datetime,
    by: str,
    by_name: str,
) -> AlertMute:
    found = await session.exec(select(AlertMute).where(AlertMute.credential_key == credential_key))
    row = found.first() or AlertMute(
        credential_key=credential_key, muted_until=until, muted_by=by, muted_by_name=by_name
    )
    row.muted_until, row.muted_by, row.muted_by_name = until, by, by_name
    session.add(row)
    await session.flush()
    return row


async def get_alert(*, session: AsyncSession, alert_id: int) -> GrantAlert | None:
    return await session.get(GrantAlert, alert_id)


async def alerts_to_publish(*, session: AsyncSession, limit: int = 50) -> list[int]:
    """Alerts whose message lags behind their counts (never muted ones), oldest first."""
    found = await session.exec(
        select(GrantAlert.id)
        .where(col(GrantAlert.shown) != col(GrantAlert.total))
        .where(col(GrantAlert.muted).is_(False))
        .order_by(col(GrantAlert.id))
        .limit(limit)
    )
    return [row for row in found.all() if row is not None]


async def claim_alert(
    *, session: AsyncSession, alert_id: int, worker_id: str, now: datetime, lease: timedelta
) -> GrantAlert | None:
    """Take an alert to publish: nobody holds it, or its holder's lease ran out. A conditional
    update, so one replica wins. The caller commits."""
    claimed = await session.exec(
        update(GrantAlert)
        .where(col(GrantAlert.id) == alert_id)
        .where(
            or_(
                col(GrantAlert.claimed_by).is_(None),
                col(GrantAlert.claimed_at) < now - lease,
            )
        )
        .values(claimed_by=worker_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        return None
    return await session.get(GrantAlert, alert_id, populate_existing=True)


async def published(
    *,
    session: AsyncSession,
    alert_id: int,
    worker_id: str,
    shown: int,
    channel_id: str | None,
    message_ts: str | None,
    at: datetime,
) -> None:
    """Record what the message now shows and let go of the claim."""
    values: dict[str, object] = {"shown": shown, "claimed_by": None, "claimed_at": None}
    values["edited_at"] = at
    if message_ts is not None:
        values["channel_id"], values["message_ts"] = channel_id, message_ts
    await session.exec(
        update(GrantAlert)
        .where(col(GrantAlert.id) == alert_id)
        .where(col(GrantAlert.claimed_by) == worker_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def release(*, session: AsyncSession, alert_id: int, worker_id: str) -> None:
    await session.exec(
        update(GrantAlert)
        .where(col(GrantAlert.id) == alert_id)
        .where(col(GrantAlert.claimed_by) == worker_id)
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
