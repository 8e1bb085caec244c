"""A run through the running bot while the fakes and the database misbehave at random: Nylas
answers 5xx, hangs past the timeout, drops the connection after making the grant, answers 200
with HTML or 201 without an id; the recorder's writes raise OperationalError; Slack answers 429
to progress edits, the CSV upload and DMs. Shared by the test suite and benchmarks/run_faults."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import select

from storage.models import BulkRun
from tests.conftest import RunningBot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import csv_rows, items_and_events, unaudited_grants, users
from tests.runs.database_faults import RecorderFaults, failing_recorder

CHAOS_SETTINGS = {
    "bulkauth_run_scan_seconds": 0.2,
    "bulkauth_progress_interval_seconds": 0.5,
    "bulkauth_item_lease_seconds": 3.0,
    "bulkauth_nylas_timeout_seconds": 0.5,
    "bulkauth_nylas_max_backoff_seconds": 0.05,
    "bulkauth_nylas_rps": 400,
    "bulkauth_nylas_concurrency": 16,
    "bulkauth_record_retry_seconds": 0.2,  # short, so some passes give up and hand users on
    "bulkauth_upload_attempts": 8,
    "bulkauth_max_users": 5000,
}
SLACK_CHAOS = {"chat.update": 0.3, "files.getUploadURLExternal": 0.3, "chat.postMessage": 0.1}


@dataclass
class ChaosReport:
    seed: int
    users: int
    seconds: float = 0.0
    run_status: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)
    grants_at_nylas: int = 0
    not_audited_once: dict[str, int] = field(default_factory=dict)
    stuck: int = 0
    nylas_calls: int = 0
    nylas_faults: dict[str, int] = field(default_factory=dict)
    database_errors: int = 0
    slack_429s: int = 0

    def line(self) -> str:
        return (
            f"seed={self.seed} users={self.users} {self.seconds:.1f}s status={self.run_status} "
            f"outcomes={dict(self.outcomes)} grants={self.grants_at_nylas} "
            f"not_audited_once={len(self.not_audited_once)} stuck={self.stuck} "
            f"nylas_calls={self.nylas_calls} nylas_faults={self.nylas_faults} "
            f"db_errors={self.database_errors} "
            f"slack_429s={self.slack_429s}"
        )


async def chaotic_run(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, *, count: int, seed: int, rate: float
) -> ChaosReport:
    """Start a run of `count` users with faults at `rate`, wait for its CSV, report."""
    report = ChaosReport(seed=seed, users=count)
    nylas.make_chaotic(rate, seed=seed)
    slack.make_chaotic(SLACK_CHAOS, seed=seed)
    slack.fail_next("files.getUploadURLExternal", times=1)  # each kind at least once
    slack.fail_next("chat.update", times=1)
    # per statement, and a batch has many; the first write always fails
    faults = RecorderFaults(first=1, rate=rate / 10, seed=seed)
    started = time.monotonic()
    with failing_recorder(bot.deps.database, faults):
        await start_run(bot, slack, nylas, users(count))
        csv_text = await asyncio.wait_for(wait_for_csv(slack), timeout=300)
        await bot.settled()
    report.seconds = time.monotonic() - started
    slack.chaos.clear()
    items, events = await items_and_events(bot)
    async with bot.deps.sessions() as session:
        run = (await session.exec(select(BulkRun))).one()
    report.run_status = run.status
    report.outcomes = Counter(row["outcome"] for row in csv_rows(csv_text).values())
    report.grants_at_nylas = len(nylas.grants)
    report.not_audited_once = unaudited_grants(nylas, events)
    report.stuck = sum(item.status in ("pending", "in_progress") for item in items)
    report.nylas_calls = len(nylas.calls("POST", "/v3/connect/custom"))
    report.nylas_faults = dict(nylas.chaos_answered)
    report.database_errors = faults.raised
    # Every 429 the bot met, the random ones and the two forced above.
    report.slack_429s = sum(
        1 for call in slack.calls if (call.response or {}).get("error") == "ratelimited"
    )
    return report
