"""A kill -9 of `bulkauth serve` in the middle of a burst of notifications loses none: after the
restart, and Nylas's retries of what went unanswered, every notification is processed once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.demo.fakes.nylas_webhooks import Delivery
from storage.audit_key import AuditKey
from storage.db import create_engine, session_factory
from storage.models import AuditEvent, GrantAlert
from tests.conftest import AUDIT_KEY
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.test_cli import free_port, serve_env
from tests.webhooks.conftest import ALERT_CHANNEL, WEBHOOK_SECRET, granted_by_run
from tests.webhooks.served import serve, unprocessed

BURST = 3000


async def test_a_kill_during_the_burst_loses_no_notification_and_doubles_none(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas
) -> None:
    port = free_port()
    database = tmp_path / "bulkauth.db"
    env = serve_env(
        SLACK_API_URL=f"{slack.url}/api/",
        NYLAS_API_URI=nylas.url,
        PORT=str(port),
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        BULKAUTH_AUDIT_KEY=AUDIT_KEY,
        NYLAS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        BULKAUTH_ALERT_CHANNEL=ALERT_CHANNEL,
        BULKAUTH_RUN_SCAN_SECONDS="0.2",
    )
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    sessions = session_factory(engine, audit_key=AuditKey(AUDIT_KEY))
    first = await serve(tmp_path, env)
    try:
        acme = await granted_by_run(sessions, nylas, name="acme.com", count=BURST)
        nylas.add_webhook(f"http://127.0.0.1:{port}/nylas/webhook", secret=WEBHOOK_SECRET)
        quarter_in = asyncio.Event()
        gate = asyncio.Semaphore(20)

        async def deliver(grant: dict[str, Any]) -> Delivery:
            async with gate:
                delivery = await nylas.notify("grant.expired", grant, retry_wait=0.05)
            if len(nylas.deliveries) >= BURST // 4:
                quarter_in.set()
            return delivery

        burst = asyncio.gather(*(deliver(grant) for grant in acme.grants))
        async with asyncio.timeout(60):  # the kill comes once some are in, the rest under way
            await quarter_in.wait()
        first.process.send_signal(signal.SIGKILL)
        await first.ended()
        deliveries = await burst
        unanswered = [d for d in deliveries if not d.accepted]
        assert unanswered, "the kill came too late to test anything"

        second = await serve(tmp_path, env)
        try:
            # Nylas's later retries of what went unanswered (same notification ids; the
            # deliveries are in the order of the grants).
            again = await asyncio.gather(
                *(
                    nylas.notify(
                        "grant.expired",
                        acme.grants[index],
                        notification_id=delivery.notification_id,
                    )
                    for index, delivery in enumerate(deliveries)
                    if not delivery.accepted
                )
            )
            assert all(d.accepted for d in again)
            async with asyncio.timeout(60):
                while await unprocessed(sessions):  # noqa: ASYNC110 (another process's work)
                    await asyncio.sleep(0.1)
        finally:
            second.process.send_signal(signal.SIGTERM)
            await second.ended()
    finally:
        with contextlib.suppress(ProcessLookupError):
            first.process.kill()
    async with sessions() as session:
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "nylas.grant.expired"))
        ).all()
        alerts = (await session.exec(select(GrantAlert))).all()
    await engine.dispose()
    per_id = Counter(json.loads(event.details)["notification"] for event in events)
    assert set(per_id) == {d.notification_id for d in deliveries}
    assert set(per_id.values()) == {1}
    assert len(events) == BURST
    assert sum(alert.total for alert in alerts) == BURST
    posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALERT_CHANNEL]
    assert 1 <= len(posts) <= 2  # one alert; posted again only if the kill fell between
