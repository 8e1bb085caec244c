"""Issue 13 item 2: an odd success answer from Nylas fails that one user, never the run."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.conftest import RunningBot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import csv_rows, items_and_events, unaudited_grants, users


async def test_a_success_answer_without_a_grant_fails_that_user_and_the_run_finishes(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.answer_oddly("html", times=1)  # 200 with an HTML page
    nylas.answer_oddly("no_id", times=1)  # 201 whose grant has no id
    await start_run(bot, slack, nylas, users(30))
    report = await asyncio.wait_for(wait_for_csv(slack), timeout=30)
    rows = csv_rows(report)
    assert Counter(row["outcome"] for row in rows.values()) == {"created": 28, "failed": 2}
    failed = [row for row in rows.values() if row["outcome"] == "failed"]
    assert sorted(row["error"].split(" (")[0] for row in failed) == [
        "Nylas answered 200 without a grant",
        "Nylas answered 201 without a grant",
    ]
    assert all(row["request_id"] for row in failed)
    assert len(nylas.grants) == 30  # Nylas made every grant
    items, events = await items_and_events(bot)
    assert {item.status for item in items} == {"created", "failed"}
    assert unaudited_grants(nylas, events) == {}
    summary = slack.calls_to("chat.update")[-1].text_blob()
    assert "finished" in summary and "without a grant" in summary
