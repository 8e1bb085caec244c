"""A burst of signed Nylas webhook notifications at the running bot: answer latency, against
/healthz answered in the same run, and how many Slack messages the alerts took.

    python -m benchmarks.webhook_burst [--notifications 5000] [--rate 83.3] [--concurrency 200]
                                       [--database sqlite|postgresql]

--notifications `grant.expired` notifications for the grants of two credentials (half each),
sent at --rate per second (default: the issue's burst, 5,000 within 60 s; try --rate 500 for six
times that), each timed from when it was due to its answer; meanwhile /healthz is asked 200
times, timed the same way (the baseline: an answer that touches the database but stores
nothing). The bot runs as `bulkauth serve` in a process of its own, so the load generator does
not share its event loop. The goal: webhook p99 under 100 ms, every notification audited, at
most 5 alert messages. The alert window is the default 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from sqlmodel import col, func, select

from benchmarks.ack_while_planning import summary
from bot.demo.fakes.nylas_webhooks import notification, signed
from storage.audit_key import AuditKey
from storage.db import Sessions, create_engine, session_factory
from storage.models import AuditEvent, GrantAlert
from tests.conftest import ADMIN, AUDIT_KEY, NYLAS_API_KEY
from tests.databases import PostgresServer
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.test_cli import free_port, serve_env
from tests.webhooks.conftest import ALERT_CHANNEL, WEBHOOK_SECRET, granted_by_run
from tests.webhooks.served import serve, unprocessed


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


async def audited(sessions: Sessions) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(AuditEvent)
        return int(
            (await session.exec(query.where(AuditEvent.action == "nylas.grant.expired"))).one()
        )


async def settled(sessions: Sessions) -> None:
    """Every notification processed and every alert message current (read from outside)."""
    lagging = (
        select(func.count())
        .select_from(GrantAlert)
        .where(col(GrantAlert.shown) != col(GrantAlert.total))
    )
    async with asyncio.timeout(600):
        while await unprocessed(sessions):  # noqa: ASYNC110 (another process's work)
            await asyncio.sleep(0.1)
        while True:
            async with sessions() as session:
                if not (await session.exec(lagging)).one():
                    return
            await asyncio.sleep(0.1)


@asynccontextmanager
async def bot_process(
    slack: FakeSlack, nylas: FakeNylas, database_url: str, workdir: Path
) -> AsyncIterator[str]:
    """`bulkauth serve` in a process of its own (its event loop is not the load generator's)."""
    port = free_port()
    env = serve_env(
        SLACK_API_URL=f"{slack.url}/api/",
        NYLAS_API_URI=nylas.url,
        PORT=str(port),
        DATABASE_URL=database_url,
        BULKAUTH_AUDIT_KEY=AUDIT_KEY,
        NYLAS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        BULKAUTH_ALERT_CHANNEL=ALERT_CHANNEL,
        BULKAUTH_ADMINS=ADMIN,
    )
    served = await serve(workdir, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.process.send_signal(signal.SIGTERM)
        await served.ended()


async def main(notifications: int, concurrency: int, rate: float, database: str) -> None:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    await slack.start()
    await nylas.start()
    slack.add_user(ADMIN, "Bench")
    with tempfile.TemporaryDirectory() as workdir:
        postgres = PostgresServer(Path(workdir) / "pg") if database == "postgresql" else None
        database_url = (
            await postgres.new_database()
            if postgres is not None
            else f"sqlite+aiosqlite:///{Path(workdir) / 'bulkauth.db'}"
        )
        engine = create_engine(database_url)
        sessions = session_factory(engine, audit_key=AuditKey(AUDIT_KEY))
        try:
            async with (
                bot_process(slack, nylas, database_url, Path(workdir)) as url,
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=concurrency + 10)
                ) as http,
            ):
                half = notifications // 2
                grants = []
                for name, count in (("acme.com", half), ("globex.com", notifications - half)):
                    grants += (await granted_by_run(sessions, nylas, name=name, count=count)).grants
                bodies = [json.dumps(notification("grant.expired", g)).encode() for g in grants]
                idle_health = await timed_health(http, f"{url}/healthz", 200, 0.005)
                began = time.monotonic()
                health = asyncio.create_task(
                    timed_health(http, f"{url}/healthz", 200, notifications / rate / 200)
                )
                answers = await timed_posts(http, f"{url}/nylas/webhook", bodies, concurrency, rate)
                answered = time.monotonic() - began
                busy_health = await health
                await settled(sessions)
                processed = time.monotonic() - began
                count = await audited(sessions)
        finally:
            await engine.dispose()
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
    parser.add_argument("--rate", type=float, default=5000 / 60, help="notifications per second")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.notifications, arguments.concurrency, arguments.rate, arguments.database)
    )
