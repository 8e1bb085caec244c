"""A bot that works runs quickly (short scans, leases and progress interval), and ways to read
what a run left behind."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from storage.models import AuditEvent, RunItem
from tests.conftest import RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.grant_flow import run_csv_rows

RUN_SETTINGS: dict[str, Any] = {
    "bulkauth_run_scan_seconds": 0.2,
    "bulkauth_progress_interval_seconds": 0.5,
    "bulkauth_item_lease_seconds": 2.0,
}
GRANT_ACTIONS = ("grant.created", "grant.reauthenticated", "grant.failed")


def users(count: int, domain: str = "acme.com") -> str:
    return "\n".join(f"user{index}@{domain}" for index in range(count))


def csv_rows(report: str) -> dict[str, dict[str, str]]:
    return {row["email"]: row for row in run_csv_rows(report)}


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> AsyncIterator[RunningBot]:
    async with run_bot(make_settings(**RUN_SETTINGS, bulkauth_max_users=5000)) as running:
        yield running


async def items_and_events(bot: RunningBot) -> tuple[list[RunItem], list[AuditEvent]]:
    async with bot.deps.sessions() as session:
        items = list((await session.exec(select(RunItem))).all())
        events = list((await session.exec(select(AuditEvent))).all())
    return items, events


def unaudited_grants(nylas: FakeNylas, events: list[AuditEvent]) -> dict[str, int]:
    """Mailboxes with a grant at the fake Nylas whose grant outcome is not audited exactly once
    (email: how many grant events it has)."""
    per_email = Counter(e.email for e in events if e.action in GRANT_ACTIONS)
    return {email: per_email[email] for email in nylas.grants if per_email[email] != 1}
