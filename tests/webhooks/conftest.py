"""A bot with the webhook route on and an alert channel, grants that runs of the bot made (so
notifications can be linked to their credential and run), and ways to wait for the inbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, func, select

from storage.db import Sessions
from storage.models import (
    AuditEvent,
    BulkRun,
    CredentialRecord,
    GrantAlert,
    ItemStatus,
    RunStatus,
    WebhookNotification,
)
from storage.runs import items_with_presets
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas

WEBHOOK_SECRET = "whsec-test-0123456789abcdef0123456789abcdef"
ALERT_CHANNEL = "C0ALERTS"
WEBHOOK_SETTINGS: dict[str, Any] = {
    "nylas_webhook_secret": WEBHOOK_SECRET,
    "bulkauth_alert_channel": ALERT_CHANNEL,
    "bulkauth_alert_window_seconds": 60,
    "bulkauth_run_scan_seconds": 0.2,
}


@pytest.fixture
async def hooked(make_settings: SettingsFactory, nylas: FakeNylas) -> AsyncIterator[RunningBot]:
    """The bot, registered at the fake Nylas as the webhook destination."""
    async with run_bot(make_settings(**WEBHOOK_SETTINGS)) as running:
        nylas.add_webhook(f"{running.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        yield running


@dataclass(frozen=True)
class Granted:
    """Grants a finished run of one credential made (at the fake Nylas and in the database)."""

    credential_id: str  # Nylas's
    name: str
    run_id: int
    grants: list[dict[str, Any]]


async def granted_by_run(
    sessions: Sessions,
    nylas: FakeNylas,
    *,
    name: str,
    count: int,
    provider: str = "google",
    secret_expires_on: Any = None,
) -> Granted:
    """`count` mailboxes of domain `name` given grants by a finished run of credential `name`."""
    credential_id = f"cred-{name}"
    grants = [
        nylas.add_grant(f"user{i}@{name}", provider=provider, credential_id=credential_id)
        for i in range(count)
    ]
    async with sessions() as session:
        record = CredentialRecord(
            nylas_credential_id=credential_id,
            provider=provider,
            credential_type="serviceaccount" if provider == "google" else "adminconsent",
            name=name,
            secret_expires_on=secret_expires_on,
            registered_by=ADMIN,
            registered_by_name="Ada Admin",
        )
        session.add(record)
        await session.flush()
        assert record.id is not None
        run = BulkRun(
            credential_id=record.id,
            provider=provider,
            status=RunStatus.FINISHED,
            requested_by=ADMIN,
            requested_by_name="Ada Admin",
            total=count,
            created=count,
        )
        session.add(run)
        await session.flush()
        assert run.id is not None
        await items_with_presets(
            session=session,
            run_id=run.id,
            items=((g["email"], ItemStatus.CREATED, g["id"]) for g in grants),
        )
        await session.commit()
    return Granted(credential_id, name, run.id, grants)


async def _count(sessions: Sessions, query: Any) -> int:
    async with sessions() as session:
        return int((await session.exec(query)).one())


async def inbox_settled(bot: RunningBot, *, timeout: float = 60.0) -> None:
    """Wait until every stored notification is processed and every alert message is current."""
    waiting = select(func.count()).select_from(WebhookNotification)
    unprocessed = waiting.where(col(WebhookNotification.processed_at).is_(None))
    lagging = (
        select(func.count())
        .select_from(GrantAlert)
        .where(col(GrantAlert.shown) != col(GrantAlert.total))
        .where(col(GrantAlert.muted).is_(False))
    )
    activity = bot.deps.alerts.activity
    async with asyncio.timeout(timeout):
        while True:
            activity.clear()
            if not await _count(bot.deps.sessions, unprocessed) and not (
                bot.deps.alerts.channel and await _count(bot.deps.sessions, lagging)
            ):
                return
            # The publisher's next turn (it follows each processed batch), or another look.
            with contextlib.suppress(TimeoutError):  # not wait_for: see WebhookProcessor._loop
                async with asyncio.timeout(0.5):
                    await activity.wait()


async def audit_events(bot: RunningBot, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.seq))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    async with bot.deps.sessions() as session:
        return list((await session.exec(query)).all())


async def inbox_rows(bot: RunningBot) -> list[WebhookNotification]:
    async with bot.deps.sessions() as session:
        return list((await session.exec(select(WebhookNotification))).all())
