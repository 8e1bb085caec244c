"""A burst of signed Nylas webhook notifications at the running bot: answer latency, against
/healthz answered in the same run, and how many Slack messages the alerts took.

    python -m benchmarks.webhook_burst [--notifications 5000] [--rate 500] [--concurrency 200]
                                       [--database sqlite|postgresql]

--notifications `grant.expired` notifications for the grants of two credentials (half each),
sent at --rate per second (the issue's burst is 5,000 within 60 s, 83/s; the default is six
times that), each timed from when it was due to its answer; meanwhile /healthz is asked 200
times, timed the same way (the baseline: an answer that touches the database but stores
nothing). The goal: webhook p99 under 100 ms, every notification audited, at most 5 alert
messages. The alert window is the default 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import func, select

from benchmarks.ack_while_planning import summary
from benchmarks.fakes_settings import bench_settings
from bot.demo.fakes.nylas_webhooks import notification, signed
from bot.logs import Redactor
from storage.models import AuditEvent
from tests.conftest import ADMIN, NYLAS_API_KEY, RunningBot, run_bot
from tests.databases import PostgresServer
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.webhooks.conftest import ALERT_CHANNEL, WEBHOOK_SECRET, granted_by_run, inbox_settled


async def timed_posts(
    http: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int, rate: float
) -> list[float]:
    """Open loop: notification i leaves at i / rate seconds (at most `concurrency` in flight),
    timed from when it was due, so a slow server's queueing counts against it."""
    gate = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def one(index: int, body: bytes) -> float:
        signature = signed(body, WEBHOOK_SECRET)
        headers = {"Content-Type": "application/json", "X-Nylas-Signature": signature}
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        async with gate, http.post(url, data=body, headers=headers) as answer:
            await answer.read()
            assert answer.status == 200, answer.status
        return time.monotonic() - due

    return list(await asyncio.gather(*(one(i, body) for i, body in enumerate(bodies))))


async def timed_health(
    http: aiohttp.ClientSession, url: str, count: int, gap: float
) -> list[float]:
    async def one(delay: float) -> float:
        await asyncio.sleep(delay)
        began = time.monotonic()
        async with http.get(url) as answer:
            await answer.read()
        return time.monotonic() - began

    return list(await asyncio.gather(*(one(index * gap) for index in range(count))))


async def audited(bot: RunningBot) -> int:
    async with bot.deps.sessions() as session:
        query = select(func.count()).select_from(AuditEvent)
        return int(
            (await session.exec(query.where(AuditEvent.action == "nylas.grant.expired"))).one()
        )


async def main(notifications: int, concurrency: int, rate: float, database: str) -> None:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    await slack.start()
    await nylas.start()
    slack.add_user(ADMIN, "Bench")
    with tempfile.TemporaryDirectory() as workdir:
        postgres = PostgresServer(Path(workdir) / "pg") if database == "postgresql" else None
        overrides: dict[str, Any] = {
            "bulkauth_audit_key": "bench-audit-key-0123456789abcdef0123",
            "nylas_webhook_secret": WEBHOOK_SECRET,
            "bulkauth_alert_channel": ALERT_CHANNEL,
        }
        if postgres is not None:
            overrides["database_url"] = await postgres.new_database()
        settings = bench_settings(slack, nylas, Path(workdir), **overrides)
        try:
            async with (
                run_bot(settings, redactor=Redactor()) as bot,
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=concurrency + 10)
                ) as http,
            ):
                half = notifications // 2
                grants = []
                for name, count in (("acme.com", half), ("globex.com", notifications - half)):
                    grants += (
                        await granted_by_run(bot.deps.sessions, nylas, name=name, count=count)
                    ).grants
                bodies = [json.dumps(notification("grant.expired", g)).encode() for g in grants]
                idle_health = await timed_health(http, f"{bot.url}/healthz", 200, 0.005)
                began = time.monotonic()
                health = asyncio.create_task(timed_health(http, f"{bot.url}/healthz", 200, 0.02))
                answers = await timed_posts(
                    http, f"{bot.url}/nylas/webhook", bodies, concurrency, rate
                )
                answered = time.monotonic() - began
                busy_health = await health
                await inbox_settled(bot, timeout=600)
                processed = time.monotonic() - began
                count = await audited(bot)
        finally:
            if postgres is not None:
                postgres.stop()
    await slack.stop()
    await nylas.stop()
    posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALERT_CHANNEL]
    print(
        f"{notifications:,} grant.expired notifications for two credentials at {rate:,.0f}/s "
        f"(at most {concurrency} in flight), {database}"
    )
    print(f"  webhook answers:          {summary(answers)}  (target: p99 < 100 ms)")
    print(f"  /healthz during burst:    {summary(busy_health)}")
    print(f"  /healthz idle (baseline): {summary(idle_health)}")
    print(
        f"  all answered in {answered:.1f} s ({notifications / answered:,.0f}/s); "
        f"all audited after {processed:.1f} s"
    )
    print(f"  audit events: {count:,} of {notifications:,}")
    print(
        f"  Slack: {len(posts)} alert messages posted (target: at most 5), "
        f"{len(slack.calls_to('chat.update'))} edits"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0, help="notifications per second")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.notifications, arguments.concurrency, arguments.rate, arguments.database)
    )
