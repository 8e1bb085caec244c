"""Bulk runs against a local fake Nylas server, through the bot's real run engine.

    python -m benchmarks.bulk_run throughput [--users 5000] [--baseline-users 200]
    python -m benchmarks.bulk_run memory [--users 100000]
    python -m benchmarks.bulk_run logs [--users 5000]

throughput: the fake answers after 300 ms, allows 50 requests/s (429 + Retry-After beyond) and
fails 2 % of calls with a transient 503. The run's achieved rate is printed as a ratio of the
configured rate (20 and 50 per second), beside a plain sequential loop of the official `nylas`
SDK over the same kind of users against the same server (measured on --baseline-users users and
extrapolated to --users, since the loop takes 0.3 s a user). While the 50/s run is going, 50
signed slash commands and 50 button clicks are sent at once and their acks timed.

memory: peak RSS of the whole process (bot, fake Slack and fake Nylas together) for a run of
--users users with zero latency.

logs: what a run of --users users writes to the log at the default LOG_LEVEL (INFO), in text:
lines, bytes, and lines that are SQL or mention a user's address.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bot.logs import Redactor, configure_logging
from bot.runs.emails import fold
from bot.runs.plan import GrantRequest, PendingPlan, make_plan
from bot.serve import started_bot
from bot.settings import Settings
from bot.slack.access import SlackActor
from storage.models import BulkRun, CredentialRecord, utcnow
from storage.runs import item_counts
from tests.fakes.nylas import API_KEY, FakeNylas, StoredCredential
from tests.fakes.slack import FakeSlack
from tests.grant_flow import SEEDED
from tests.slack_requests import (
    SIGNING_SECRET,
    form_body,
    payload_body,
    signed_headers,
    slash_command,
)
from tests.slack_ui import message_click

ADMIN = "U0BENCH"
OUTSIDER = "U0BENCHOUT"  # clicks buttons it may not use: refused, so the run goes on
SCOPE = "https://www.googleapis.com/auth/calendar"


def settings_for(
    slack: FakeSlack,
    nylas: FakeNylas,
    workdir: Path,
    rate: float,
    concurrency: int,
    log_level: str = "WARNING",
) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=f"{slack.url}/api/",
        nylas_api_key=API_KEY,
        nylas_api_uri=nylas.url,
        database_url=f"sqlite+aiosqlite:///{workdir / f'bench-{rate}.db'}",
        port=0,
        bulkauth_admins=[ADMIN],
        bulkauth_nylas_rps=rate,
        bulkauth_nylas_concurrency=concurrency,
        bulkauth_item_attempts=5,
        bulkauth_run_scan_seconds=1.0,
        log_level=log_level,
    )


async def run_users(
    settings: Settings, slack: FakeSlack, nylas: FakeNylas, users: int, during: object = None
) -> tuple[float, Counter[str], object]:
    """Create, approve and start a run; returns (duration, outcome counts, `during` result)."""
    nylas.credentials["cred-bench"] = StoredCredential(
        "cred-bench", "google", "bench", "serviceaccount", SEEDED["google"], 1, 1
    )
    async with started_bot(settings, redactor=Redactor(), host="127.0.0.1") as bot:
        deps = bot.deps
        async with deps.sessions() as session:
            credential = CredentialRecord(
                nylas_credential_id="cred-bench",
                provider="google",
                credential_type="serviceaccount",
                name="bench",
                registered_by=ADMIN,
                registered_by_name="Bench",
            )
            session.add(credential)
            await session.commit()
            await session.refresh(credential)
        assert credential.id is not None
        emails = [f"user{index}@bench.example.com" for index in range(users)]
        request = GrantRequest(
            credential=credential, candidates=tuple(emails), scopes=(SCOPE,), skip_existing=True
        )
        plan = make_plan(request, fold(emails), existing=[])
        actor = SlackActor(user_id=ADMIN, display_name="Bench", is_workspace_admin=True)
        run = await deps.runs.write_run(PendingPlan(plan=plan, requester=actor, channel_id=""))
        assert run.id is not None
        started = time.monotonic()
        await deps.runs.decide(run.id, actor, approved=True, now=utcnow())
        await deps.runs.start(run.id, channel_id=ADMIN, thread_ts=None)
        extra = await during(bot.port, slack) if callable(during) else None  # type: ignore[misc]
        await slack.wait_for("files.completeUploadExternal", timeout=users)
        duration = time.monotonic() - started
        async with deps.sessions() as session:
            counts = Counter(await item_counts(session=session, run_id=run.id))
            assert (await session.get(BulkRun, run.id)) is not None
    return duration, counts, extra


async def responsiveness(port: int, slack: FakeSlack) -> dict[str, list[float]]:
    """50 slash commands and 50 button clicks at once, each timed to its ack (the clicks are
    an outsider's Cancel on the run's progress message, which the bot refuses)."""
    url = f"http://127.0.0.1:{port}/slack/events"

    async def timed(http: aiohttp.ClientSession, body: str) -> float:
        began = time.monotonic()
        async with http.post(url, data=body.encode(), headers=signed_headers(body)) as reply:
            await reply.read()
            assert reply.status == 200
        return time.monotonic() - began

    await asyncio.sleep(3)  # let the run get going first
    commands = [form_body(slash_command("help", user_id=ADMIN)) for _ in range(50)]
    [(channel, ts)] = [key for key in slack.messages if "Cancel" in json.dumps(slack.messages[key])]
    clicks = [
        payload_body(message_click(slack, OUTSIDER, channel, ts, "Cancel")) for _ in range(50)
    ]
    async with aiohttp.ClientSession() as http:
        command_times = await asyncio.gather(*(timed(http, body) for body in commands))
        click_times = await asyncio.gather(*(timed(http, body) for body in clicks))
    return {"slash commands": list(command_times), "button clicks": list(click_times)}


def sdk_loop(url: str, emails: list[str]) -> tuple[float, int]:
    """The baseline: the official SDK, one call after another, as a curl-style script does."""
    from nylas import Client

    client = Client(API_KEY, api_uri=url)
    lost = 0
    started = time.monotonic()
    for email in emails:
        try:
            client.auth.custom_authentication(
                {
                    "provider": "google",
                    "settings": {
                        "credential_id": "cred-bench",
                        "email_address": email,
                        "scopes": [SCOPE],
                    },
                }
            )
        except Exception:
            lost += 1
    return time.monotonic() - started, lost


async def throughput(users: int, baseline_users: int) -> None:
    print(f"fake Nylas: 300 ms latency, 50 requests/s then 429, 2 % transient 503; {users:,} users")
    with tempfile.TemporaryDirectory() as workdir:
        for rate in (20.0, 50.0):
            slack, nylas = (
                FakeSlack(),
                FakeNylas(latency=0.3, rate_limit_per_second=50, transient_error_rate=0.02),
            )
            await slack.start()
            await nylas.start()
            slack.add_user(ADMIN, "Bench", admin=True)
            slack.add_user(OUTSIDER, "Outsider")
            settings = settings_for(slack, nylas, Path(workdir), rate, concurrency=int(rate))
            probe = responsiveness if rate == 50.0 else None
            duration, counts, acks = await run_users(settings, slack, nylas, users, probe)
            calls = len([r for r in nylas.requests if r.path == "/v3/connect/custom"])
            print(
                f"configured {rate:>4.0f}/s: {users:,} users in {duration:6.1f} s = "
                f"{users / duration:5.1f}/s = {users / duration / rate:.3f} of configured; "
                f"outcomes {dict(counts)}; {calls:,} calls, {nylas.throttled} answered 429"
            )
            if isinstance(acks, dict):
                for name, times in acks.items():
                    print(
                        f"  during the run, {len(times)} {name}: ack median "
                        f"{statistics.median(times) * 1000:.0f} ms, worst "
                        f"{max(times) * 1000:.0f} ms"
                    )
            await slack.stop()
            await nylas.stop()
        nylas = FakeNylas(latency=0.3, rate_limit_per_second=50, transient_error_rate=0.02)
        nylas.credentials["cred-bench"] = StoredCredential(
            "cred-bench", "google", "bench", "serviceaccount", SEEDED["google"], 1, 1
        )
        await nylas.start()
        emails = [f"sdk{index}@bench.example.com" for index in range(baseline_users)]
        measured, lost = await asyncio.to_thread(sdk_loop, nylas.url, emails)
        await nylas.stop()
        per_user = measured / baseline_users
        print(
            f"baseline: nylas SDK sequential loop, {baseline_users} users in {measured:.1f} s "
            f"({per_user * 1000:.0f} ms a user, {lost} lost to errors the SDK does not retry);"
            f" extrapolated to {users:,} users: {per_user * users:,.0f} s "
            f"({per_user * users / 60:.0f} min), losing about "
            f"{lost / baseline_users * users:,.0f}"
        )


async def memory(users: int) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as workdir:
        slack, nylas = FakeSlack(), FakeNylas()
        await slack.start()
        await nylas.start()
        settings = settings_for(slack, nylas, Path(workdir), rate=1000.0, concurrency=64)
        duration, counts, _ = await run_users(settings, slack, nylas, users)
        await slack.stop()
        await nylas.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{users:,} users, zero latency: finished in {duration:.0f} s ({users / duration:.0f}"
        f"/s), outcomes {dict(counts)}"
    )
    print(
        f"peak RSS {peak:.0f} MB (process before the run: {before:.0f} MB; includes the fake "
        f"Nylas holding {len(nylas.grants):,} grants and the fake Slack holding the CSV)"
    )


async def log_volume(users: int) -> None:
    stream = io.StringIO()
    configure_logging(redactor=Redactor(), level="INFO", stream=stream)
    with tempfile.TemporaryDirectory() as workdir:
        slack, nylas = FakeSlack(), FakeNylas()
        await slack.start()
        await nylas.start()
        settings = settings_for(slack, nylas, Path(workdir), 1000.0, 64, log_level="INFO")
        duration, counts, _ = await run_users(settings, slack, nylas, users)
        await slack.stop()
        await nylas.stop()
    logging.getLogger().handlers.clear()
    lines = stream.getvalue().splitlines()
    sql = [line for line in lines if "sqlalchemy" in line]
    addresses = [line for line in lines if "@bench.example.com" in line]
    print(f"{users:,} users in {duration:.1f} s, outcomes {dict(counts)}")
    print(
        f"log at LOG_LEVEL=INFO: {len(lines)} lines, {len(stream.getvalue().encode()):,} bytes; "
        f"{len(sql)} SQL lines, {len(addresses)} lines with a user's address"
    )
    for line in lines:
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["throughput", "memory", "logs"])
    parser.add_argument("--users", type=int)
    parser.add_argument("--baseline-users", type=int, default=200)
    arguments = parser.parse_args()
    if arguments.mode == "throughput":
        asyncio.run(throughput(arguments.users or 5000, arguments.baseline_users))
    elif arguments.mode == "logs":
        asyncio.run(log_volume(arguments.users or 5000))
    else:
        asyncio.run(memory(arguments.users or 100_000))
