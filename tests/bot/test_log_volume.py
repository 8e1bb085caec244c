"""What a bulk run writes to the log at the default level: the bot's own events, a few lines in
all, whatever the number of users; no SQL, no scheduler ticks, no email address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import Redactor, configure_logging
from tests.conftest import SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv

USERS = 120


@pytest.fixture(params=["text", "json"])
def default_logs(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    """The process's stderr at the default LOG_LEVEL (INFO), in each LOG_FORMAT."""
    stream = io.StringIO()
    handler = configure_logging(
        redactor=Redactor(), level="INFO", as_json=request.param == "json", stream=stream
    )
    yield request.param, stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


async def test_a_run_logs_its_events_in_a_few_lines(
    default_logs: tuple[str, io.StringIO],
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
) -> None:
    log_format, stream = default_logs
    users = "\n".join(f"user{number}@acme.com" for number in range(USERS))
    async with run_bot(make_settings(bulkauth_run_scan_seconds=0.2)) as bot:
        await start_run(bot, slack, nylas, users)
        await wait_for_csv(slack)
        await bot.settled()
    lines = stream.getvalue().splitlines()
    assert not [line for line in lines if "sqlalchemy" in line or "apscheduler" in line]
    assert not [line for line in lines if "@acme.com" in line]
    assert len(lines) < 20, "\n".join(lines)
    finished = [line for line in lines if "run.finished" in line]
    assert len(finished) == 1
    if log_format == "json":
        event = json.loads(finished[0])
        assert event["message"] == "run.finished"
        assert event["users"] == USERS and event["created"] == USERS
        assert isinstance(event["duration_seconds"], float)
    else:
        assert f"users={USERS}" in finished[0] and f"created={USERS}" in finished[0]
        assert "duration_seconds=" in finished[0]
    assert len([line for line in lines if "run.started" in line]) == 1
