"""Two replicas on one PostgreSQL share the inbox and the alerts: Nylas's notifications reach
either (a load balancer), each is audited once and each credential gets one alert message."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from bot.demo.fakes.nylas_webhooks import notification, signed
from tests.conftest import RunningBot, SettingsFactory, run_bot
from tests.databases import PostgresServer
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.webhooks.conftest import (
    ALERT_CHANNEL,
    WEBHOOK_SECRET,
    WEBHOOK_SETTINGS,
    audit_events,
    granted_by_run,
    inbox_settled,
)


async def deliver(bot: RunningBot, body: bytes) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-Nylas-Signature": signed(body, WEBHOOK_SECRET),
    }
    async with bot.http.post(f"{bot.url}/nylas/webhook", data=body, headers=headers) as answer:
        return answer.status


async def test_two_replicas_audit_each_notification_once_and_post_one_alert_per_credential(
    make_settings: SettingsFactory,
    postgres_server: PostgresServer,
    nylas: FakeNylas,
    slack: FakeSlack,
) -> None:
    settings = make_settings(**WEBHOOK_SETTINGS, database_url=await postgres_server.new_database())
    async with run_bot(settings) as first, run_bot(settings) as second:
        acme = await granted_by_run(first.deps.sessions, nylas, name="acme.com", count=300)
        globex = await granted_by_run(first.deps.sessions, nylas, name="globex.com", count=300)
        bodies = [
            json.dumps(notification("grant.expired", grant)).encode()
            for grant in acme.grants + globex.grants
        ]
        # Every notification reaches one replica; a third of them is retried at the other.
        statuses = await asyncio.gather(
            *(deliver((first, second)[i % 2], body) for i, body in enumerate(bodies)),
            *(deliver((second, first)[i % 2], body) for i, body in enumerate(bodies[::3])),
        )
        assert set(statuses) == {200}
        await inbox_settled(first)
        await inbox_settled(second)
        events = await audit_events(first, "nylas.grant.expired")
    per_id = Counter(json.loads(event.details)["notification"] for event in events)
    assert len(per_id) == 600 and set(per_id.values()) == {1}
    posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALERT_CHANNEL]
    assert len(posts) == 2
    shown = sorted(slack.messages[(ALERT_CHANNEL, p.response["ts"])]["text"] for p in posts)
    assert shown == ["300 grants of acme.com expired", "300 grants of globex.com expired"]
