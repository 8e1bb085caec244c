"""What the alert's buttons do: the affected grants as a CSV in the message's thread, and
muting a credential's alerts for a day (stored, audited, shown on the message)."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.messages import slack_date
from bot.blocks import escape
from bot.errors import UserInputError
from bot.runtime.spreadsheet import SafeCsvWriter
from bot.slack.upload import Upload, scratch_file, upload_with_retries
from storage.alerts import get_alert, mute
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.credentials import credentials_by_nylas_id
from storage.db import Sessions
from storage.models import GrantAlert, utcnow
from storage.webhooks import notifications_of_alert

MUTE_FOR = timedelta(days=1)
LIST_COLUMNS = (
    "email",
    "grant_id",
    "provider",
    "event",
    "occurred_at",
    "received_at",
    "notification_id",
)
GONE = "This alert is no longer in the database."


def _subject(alert: GrantAlert) -> Subject:
    known = not alert.credential_key.startswith("domain:")
    return Subject(credential_id=alert.credential_key if known else None)


async def _alert(sessions: Sessions, alert_id: int) -> GrantAlert:
    async with sessions() as session:
        alert = await get_alert(session=session, alert_id=alert_id)
    if alert is None:
        raise UserInputError(GONE)
    return alert


async def send_alert_list(
    *,
    sessions: Sessions,
    slack: AsyncWebClient,
    http: aiohttp.ClientSession,
    alert_id: int,
    actor: Actor,
    attempts: int,
) -> int:
    """Upload the alert's grants as a CSV into its thread; how many rows it holds."""
    alert = await _alert(sessions, alert_id)
    if alert.channel_id is None or alert.message_ts is None:
        raise UserInputError("This alert has no message to reply to yet.")
    async with sessions() as session:
        rows = await notifications_of_alert(session=session, alert_id=alert_id)
    filename = f"alert-{alert_id}-grants.csv"
    with scratch_file(filename) as path:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = SafeCsvWriter(out, LIST_COLUMNS)
            writer.write_header()
            for row in rows:
                writer.write_row(
                    [
                        row.email,
                        row.grant_id,
                        row.provider,
                        row.trigger,
                        row.occurred_at.isoformat(),
                        row.received_at.isoformat(),
                        row.notification_id,
                    ]
                )
        upload = Upload(
            filename=filename,
            title=f"Grants of {alert.credential_name} in alert {alert_id}",
            channel_id=alert.channel_id,
            thread_ts=alert.message_ts,
            initial_comment=f"{len(rows):,} grants of {escape(alert.credential_name)}",
        )
        await upload_with_retries(slack, http, path, upload, attempts=attempts)
    await _audit(sessions, actor, AuditAction.ALERT_LIST_SENT, alert, {"rows": len(rows)})
    return len(rows)


async def mute_alerts(*, sessions: Sessions, alert_id: int, actor: Actor) -> datetime:
    """Mute the alert's credential for a day; its message is edited to say so (the publisher
    redraws it). Returns until when."""
    alert = await _alert(sessions, alert_id)
    until = utcnow() + MUTE_FOR
    async with sessions() as session:
        await mute(
            session=session,
            credential_key=alert.credential_key,
            until=until,
            by=actor.id,
            by_name=actor.name,
        )
        stored = await get_alert(session=session, alert_id=alert_id)
        if stored is not None:
            stored.shown = -1  # lags behind its counts: the publisher edits the message
            session.add(stored)
        await record_events(
            session=session,
            specs=[
                EventSpec(
                    actor,
                    AuditAction.ALERT_MUTED,
                    _subject(alert),
                    details={"alert": alert_id, "until": until.isoformat()},
                )
            ],
        )
        await session.commit()
    return until


def muted_note(until: datetime) -> str:
    return f"Alerts muted until {slack_date(until)}. Grant events are still audited and counted."


async def _audit(
    sessions: Sessions,
    actor: Actor,
    action: AuditAction,
    alert: GrantAlert,
    details: dict[str, object],
) -> None:
    async with sessions() as session:
        spec = EventSpec(actor, action, _subject(alert), details={"alert": alert.id, **details})
        await record_events(session=session, specs=[spec])
        await session.commit()


async def grants_to_reauthenticate(*, sessions: Sessions, alert_id: int) -> tuple[int, list[str]]:
    """The bot's credential (row id) of the alert and the alert's grant ids, for **Re-authenticate
    these**; grants this bot's credentials did not create cannot be re-authenticated by it."""
    alert = await _alert(sessions, alert_id)
    if alert.credential_key.startswith("domain:"):
        raise UserInputError(
            "These grants were not created with a credential this bot registered, so it cannot "
            "re-authenticate them. *Show list* gives them as a CSV."
        )
    async with sessions() as session:
        known = await credentials_by_nylas_id(session=session, nylas_ids=[alert.credential_key])
        rows = await notifications_of_alert(session=session, alert_id=alert_id)
    credential = known.get(alert.credential_key)
    if credential is None or credential.id is None or credential.deleted_at is not None:
        raise UserInputError("The alert's credential is no longer registered with the bot.")
    return credential.id, sorted({row.grant_id for row in rows if row.grant_id})
