"""Issue 12 item 5: a run's progress message is edited at most once per interval, and its
summary exactly once, last."""

from __future__ import annotations

import asyncio

from tests.conftest import SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, users

INTERVAL = 0.5
SLACK_JITTER = 0.1  # the fake stamps arrival; requests can travel a little unevenly


async def test_progress_edits_keep_their_interval_and_the_summary_comes_once(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = make_settings(
        **{**RUN_SETTINGS, "bulkauth_progress_interval_seconds": INTERVAL},
        bulkauth_nylas_rps=50,
    )
    slack.latency["chat.update"] = 0.05  # a real Slack answers in tens of milliseconds
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, users(290))
        await asyncio.wait_for(wait_for_csv(slack), timeout=60)
        await bot.settled()
    edits = [c for c in slack.calls_to("chat.update") if "Run 1" in c.text_blob()]
    assert len({c.params["ts"] for c in edits}) == 1  # all to the run's progress message
    summaries = [i for i, c in enumerate(edits) if "finished" in c.text_blob()]
    assert summaries == [len(edits) - 1], [c.text_blob()[:80] for c in edits]
    gaps = [later.at - earlier.at for earlier, later in zip(edits[:-1], edits[1:-1], strict=False)]
    assert len(gaps) >= 5, "the run was long enough for several progress edits"
    assert min(gaps) >= INTERVAL - SLACK_JITTER, sorted(gaps)[:5]
