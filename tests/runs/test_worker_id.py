"""Issue 13 item 6: a long host name (a Kubernetes pod) must not stop runs on PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from typing import Any

import pytest

from tests.conftest import SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, csv_rows, items_and_events, users

LONG_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters, the DNS limit


async def test_runs_progress_on_postgresql_whatever_the_host_name(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    postgres_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(LONG_HOST) == 253
    monkeypatch.setattr(socket, "gethostname", lambda: LONG_HOST)  # the OS, not our code
    settings = make_settings(**RUN_SETTINGS, database_url=await postgres_server.new_database())
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, users(12))
        report = await asyncio.wait_for(wait_for_csv(slack), timeout=30)
        items, _events = await items_and_events(bot)
    assert Counter(row["outcome"] for row in csv_rows(report).values()) == {"created": 12}
    [worker] = {item.claimed_by for item in items}
    assert worker is not None and len(worker) <= 64 and worker.startswith("a" * 20)
