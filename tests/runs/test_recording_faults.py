"""Issue 13 item 3: whatever the database does while outcomes are recorded, every grant Nylas
created ends up in the audit log exactly once, and the run finishes by itself."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest

from tests.conftest import RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, csv_rows, items_and_events, unaudited_grants, users
from tests.runs.database_faults import RecorderFaults, failing_recorder


def posts_per_email(nylas: FakeNylas) -> Counter[str]:
    return Counter(
        r.body["settings"]["email_address"] for r in nylas.calls("POST", "/v3/connect/custom")
    )


async def finished_cleanly(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, count: int) -> None:
    report = await asyncio.wait_for(wait_for_csv(slack), timeout=60)
    assert Counter(row["outcome"] for row in csv_rows(report).values()) == {"created": count}
    items, events = await items_and_events(bot)
    assert Counter(item.status for item in items) == {"created": count}
    assert unaudited_grants(nylas, events) == {}
    assert len(nylas.grants) == count


async def test_one_database_error_in_the_recorder_is_retried(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    with failing_recorder(bot.deps.database, RecorderFaults(first=1)) as faults:
        await start_run(bot, slack, nylas, users(100))
        await finished_cleanly(bot, slack, nylas, 100)
    assert faults.raised == 1
    assert set(posts_per_email(nylas).values()) == {1}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_recorder_that_cannot_write_hands_its_items_on_and_nothing_is_lost(
    kind: str,
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    postgres_server: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database refuses outcome writes for longer than recording retries: the worker stops
    sending, logs it and hands its claims back; the next pass finds the grants already made
    (List Grants by email) instead of creating them again."""
    database = {"database_url": await postgres_server.new_database()} if kind != "sqlite" else {}
    nylas.latency = 0.01
    settings = make_settings(
        **RUN_SETTINGS,
        **database,
        bulkauth_record_retry_seconds=0.3,
        bulkauth_nylas_concurrency=4,
    )
    caplog.set_level(logging.ERROR, logger="bot")
    async with run_bot(settings) as bot:
        with failing_recorder(bot.deps.database, RecorderFaults(down_seconds=1.5)) as faults:
            await start_run(bot, slack, nylas, users(100))
            await finished_cleanly(bot, slack, nylas, 100)
    assert faults.raised > 1
    assert any("could not record" in r.getMessage() for r in caplog.records), caplog.text
    assert set(posts_per_email(nylas).values()) == {1}  # found again, not created twice


async def test_a_request_id_longer_than_its_column_is_recorded_on_postgresql(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, postgres_server: Any
) -> None:
    nylas.answer_oddly("long_request_id", times=3)
    settings = make_settings(**RUN_SETTINGS, database_url=await postgres_server.new_database())
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, users(10))
        await finished_cleanly(bot, slack, nylas, 10)
        items, events = await items_and_events(bot)
    long_ids = [item.request_id for item in items if (item.request_id or "").startswith("req-7")]
    assert len(long_ids) == 3 and all(len(rid or "") <= 128 for rid in long_ids)
    assert all(len(e.request_id or "") <= 128 for e in events)


async def test_a_crash_before_a_batch_is_written_loses_no_grant(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """Outcomes are written a batch at a time. The bot stops dead (its run's task cancelled)
    while outcomes of grants Nylas made wait for their batch: those users are still claimed,
    so once the claims go stale another bot takes them over, finds their grants at Nylas and
    records each once, without creating it again."""
    settings = make_settings(**RUN_SETTINGS)
    async with run_bot(settings) as crashed:
        await start_run(crashed, slack, nylas, users(60))
        await nylas.wait_for("POST", "/v3/connect/custom", count=30)
        await crashed.deps.run_engine.stop(timeout=0)  # no drain: the process is killed
        items, _events = await items_and_events(crashed)
        recorded = sum(item.status == "created" for item in items)
        assert recorded < len(nylas.grants)  # grants Nylas made that were not written yet
    async with run_bot(settings) as taking_over:
        await finished_cleanly(taking_over, slack, nylas, 60)
    assert set(posts_per_email(nylas).values()) == {1}  # found again, not created twice
