"""Invalid grants found by the health sweep, folded into the same grouped alerts as Nylas's
`grant.expired` notifications: one message per credential and window, edited in place, with
Show list, Mute for a day and Re-authenticate these. Each finding is stored in the webhook inbox
as already processed (the sweep audits it as `grant.found_invalid` itself), so Show list and
Re-authenticate these see it like a notification."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts.grouping import AlertEvent, fold_into_alerts
from bot.nylas.models import Grant
from storage.credentials import get_credential
from storage.db import Sessions
from storage.models import WebhookNotification, utcnow
from storage.webhooks import mark_processed, store_notifications

FOUND_TRIGGER = "grant.expired"  # what Nylas's own notification of an invalid grant says
CHUNK = 500  # findings per statement (SQLite caps bound parameters)


class FoundInvalidAlerts:
    """A `bot.health.alerts.GrantAlertSink` that alerts through the grouped alerts."""

    def __init__(self, *, sessions: Sessions, window_seconds: float, wake: asyncio.Event) -> None:
        self._sessions = sessions
        self._window = timedelta(seconds=window_seconds)
        self._wake = wake

    async def grants_became_invalid(
        self, credential_id: int, grants: Sequence[Grant], source: str = "sweep"
    ) -> None:
        if not grants:
            return
        now = utcnow()
        async with self._sessions() as session:
            credential = await get_credential(session=session, credential_id=credential_id)
            if credential is None:
                return
            events: list[AlertEvent] = []
            for start in range(0, len(grants), CHUNK):
                chunk = grants[start : start + CHUNK]
                row_ids = await self._store(
                    session, chunk, source=source, provider=credential.provider
                )
                events += [
                    AlertEvent(
                        row_id,
                        FOUND_TRIGGER,
                        credential.nylas_credential_id,
                        credential.name,
                        credential.provider,
                    )
                    for row_id in row_ids
                ]
            alerts = await fold_into_alerts(
                session=session, events=events, now=now, window=self._window
            )
            alert_of: dict[int, int | None] = dict(alerts)
            await mark_processed(session=session, alert_of=alert_of, at=now)
            await session.commit()
        self._wake.set()

    @staticmethod
    async def _store(
        session: AsyncSession, grants: Sequence[Grant], *, source: str, provider: str
    ) -> list[int]:
        """The findings as processed inbox rows; their row ids."""
        now = utcnow()
        ids = [f"{source}:{now.isoformat()}:{grant.id}" for grant in grants]
        await store_notifications(
            session=session,
            rows=[
                {
                    "notification_id": notification_id,
                    "trigger": FOUND_TRIGGER,
                    "grant_id": grant.id,
                    "email": grant.email,
                    "provider": provider,
                    "occurred_at": now,
                    "received_at": now,
                    "payload": json.dumps({"source": source}),
                    "processed_at": now,  # audited by the finder, never by the processor
                }
                for notification_id, grant in zip(ids, grants, strict=True)
            ],
        )
        stored = await session.exec(
            select(col(WebhookNotification.id)).where(
                col(WebhookNotification.notification_id).in_(ids)
            )
        )
        return [row_id for row_id in stored.all() if row_id is not None]
