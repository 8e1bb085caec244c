"""A call whose answer never came may still have made its grant at Nylas (or, in a revocation,
deleted it). When the run is cancelled before that user is sent again, the bot asks Nylas (List
Grants by email; the grant's own page) and audits what it finds, so every grant Nylas made or
deleted reaches the audit log and the run's report."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

from bot.settings import Settings
from storage.models import AuditEvent, RunItem
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import (
    approval_request,
    confirm,
    run_csv_rows,
    seed_credential,
    start_run,
    wait_for_csv,
)
from tests.runs.conftest import RUN_SETTINGS, items_and_events, unaudited_grants, users
from tests.runs.test_revoke import ANN, BOB, revoke_plan
from tests.slack_ui import Person

CUSTOM_AUTH = "/v3/connect/custom"
GRANT_PAGE = r"/v3/grants/[^/]+"


async def cancel_while_held(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, progress: SlackCall
) -> tuple[str, list[RunItem], list[AuditEvent]]:
    """Cancel run 1 from its progress message while Nylas holds calls, then let them end: the
    run's report, and its items and audit events as recorded."""
    await Person(bot, slack, ADMIN).click(progress, "Cancel")
    await cancel_landed(bot, run_id=1)
    nylas.release()
    report = await wait_for_csv(slack)
    await bot.settled()
    items, events = await items_and_events(bot)
    return report, items, events


def is_run_progress(call: SlackCall) -> bool:
    """The run's progress message (its Cancel button), not the approval request."""
    text = call.text_blob()
    return "Cancel" in text and "Cancel request" not in text


async def cancel_landed(bot: RunningBot, *, run_id: int) -> None:
    """Until this process stops sending the run (the click's work runs after its ack)."""
    async with asyncio.timeout(5):
        while not bot.deps.run_engine.should_stop(run_id):  # noqa: ASYNC110 (no event to await)
            await asyncio.sleep(0.01)


async def test_a_cancel_finds_the_grants_of_calls_whose_answer_was_lost(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = make_settings(
        **RUN_SETTINGS,
        bulkauth_nylas_concurrency=2,
        bulkauth_nylas_max_attempts=1,  # a lost answer hands the user back at once
    )
    async with run_bot(settings) as bot:
        nylas.hold(CUSTOM_AUTH, after=1)  # the canary goes through; the next two wait
        await start_run(bot, slack, nylas, users(40))
        await nylas.wait_held(2)
        nylas.answer_oddly("reset", times=2)  # both make their grant, then lose the answer
        progress = await slack.wait_for("chat.postMessage", lambda c: "Run 1" in c.text_blob())
        report, items, events = await cancel_while_held(bot, slack, nylas, progress[0])
    assert len(nylas.grants) == 3
    assert unaudited_grants(nylas, events) == {}
    rows = run_csv_rows(report)
    assert Counter(row["outcome"] for row in rows) == {"created": 3, "pending": 37}
    assert len(nylas.calls("POST", CUSTOM_AUTH)) == 3  # nobody was sent after the cancel
    # Only the two users whose call went unanswered were looked up, not those merely queued.
    looked_up = [r.query["email"] for r in nylas.calls("GET", "/v3/grants") if "email" in r.query]
    assert sorted(looked_up) == ["user1@acme.com", "user2@acme.com"]
    assert {item.grant_id for item in items if item.status == "created"} == {
        grant["id"] for grant in nylas.grants.values()
    }


async def test_the_final_look_after_the_delay_finds_what_the_cancels_look_could_not(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = make_settings(
        **RUN_SETTINGS,
        bulkauth_nylas_concurrency=1,
        bulkauth_nylas_max_attempts=1,
        bulkauth_lookup_delay_seconds=3,  # well after the cancel's own look, even on a slow CI
    )
    async with run_bot(settings) as bot:
        nylas.hold(CUSTOM_AUTH, after=1)
        await start_run(bot, slack, nylas, users(10))
        await nylas.wait_held(1)
        nylas.answer_oddly("reset", times=1)
        nylas.fail("GET", "/v3/grants", status=503, times=1)  # the cancel's look fails
        progress = await slack.wait_for("chat.postMessage", lambda c: "Run 1" in c.text_blob())
        await Person(bot, slack, ADMIN).click(progress[0], "Cancel")
        await cancel_landed(bot, run_id=1)
        nylas.release()
        report = await wait_for_csv(slack)
        lookups = await nylas.wait_for("GET", "/v3/grants", count=3)  # planning, 503, final
        await bot.deps.run_engine.wait_stopped(1, timeout=10)
        items, events = await items_and_events(bot)
    # The report came before the final look: it could not count that grant yet.
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 1, "pending": 9}
    assert [r.status for r in lookups[1:]] == [503, 200]
    assert lookups[2].at - lookups[1].at >= 1.0  # the final look waited for Nylas's lists
    assert unaudited_grants(nylas, events) == {}
    assert Counter(item.status for item in items) == {"created": 2, "pending": 8}
    assert {item.attempts for item in items if item.status == "pending"} == {0}  # none in doubt


async def test_a_user_given_up_after_a_lost_answer_is_looked_up_first(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = make_settings(
        **RUN_SETTINGS, bulkauth_item_attempts=1, bulkauth_nylas_max_attempts=1
    )
    async with run_bot(settings) as bot:
        nylas.answer_oddly("reset", times=1)  # the first user's grant is made, its answer lost
        await start_run(bot, slack, nylas, users(10))
        report = await wait_for_csv(slack)
        await bot.settled()
        _items, events = await items_and_events(bot)
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 10}
    assert unaudited_grants(nylas, events) == {}
    [found] = [e for e in events if json.loads(e.details or "{}").get("found_at_nylas")]
    assert found.email == "user0@acme.com" and found.action == "grant.created"


def revoking_settings(make_settings: SettingsFactory, slack: FakeSlack, **extra: Any) -> Settings:
    """Two admins besides ADMIN approve a revocation; a lost answer hands the user back at once."""
    slack.add_user(ANN, "Ann")
    slack.add_user(BOB, "Bob")
    return make_settings(
        **RUN_SETTINGS,
        bulkauth_admins=[ADMIN, ANN, BOB],
        bulkauth_nylas_max_attempts=1,
        **extra,
    )


async def start_revocation(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, *, count: int
) -> None:
    """Run 1 deletes the grants of `count` users, planned, confirmed and approved."""
    credential = await seed_credential(bot, nylas)
    for index in range(count):
        nylas.add_grant(f"user{index}@acme.com", credential_id=credential.nylas_credential_id)
    await confirm(bot, await revoke_plan(bot, slack, "acme.com (Google)", users(count)))
    request = await approval_request(slack, bot)
    for approver in (ANN, BOB):
        await Person(bot, slack, approver).click(request, "Approve")


async def test_a_cancel_audits_the_revocations_of_calls_whose_answer_was_lost(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """A DELETE whose answer was lost may have deleted the grant: at the cancel, its grant's own
    page (404) tells, and the deletion is audited."""
    settings = revoking_settings(make_settings, slack, bulkauth_nylas_concurrency=2)
    async with run_bot(settings) as bot:
        nylas.hold(GRANT_PAGE, after=1, method="DELETE")  # the canary goes; the next two wait
        await start_revocation(bot, slack, nylas, count=10)
        await nylas.wait_held(2)
        # deleted, then a gateway's timeout (a reset would be retried by the HTTP pool itself)
        nylas.answer_oddly("gateway_timeout", path_pattern=GRANT_PAGE, times=2)
        progress = await slack.wait_for("chat.postMessage", is_run_progress)
        report, items, events = await cancel_while_held(bot, slack, nylas, progress[0])
    gone = {f"user{index}@acme.com" for index in range(10)} - set(nylas.grants)
    assert gone == {"user0@acme.com", "user1@acme.com", "user2@acme.com"}
    revocations = Counter(e.email for e in events if e.action == "grant.revoked")
    assert revocations == dict.fromkeys(gone, 1)
    assert Counter(item.status for item in items) == {"revoked": 3, "pending": 7}
    assert Counter(row["outcome"] for row in run_csv_rows(report))["pending"] == 7
    looked_up = [r.path for r in nylas.calls("GET", GRANT_PAGE)]
    assert len(looked_up) == 2  # only the two whose DELETE went unanswered
    assert len(nylas.calls("DELETE", GRANT_PAGE)) == 3  # nobody was sent after the cancel


async def test_a_user_given_up_after_a_lost_delete_answer_is_looked_up_first(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = revoking_settings(make_settings, slack, bulkauth_item_attempts=1)
    async with run_bot(settings) as bot:
        nylas.answer_oddly("gateway_timeout", path_pattern=GRANT_PAGE, times=1)  # deleted, 504
        await start_revocation(bot, slack, nylas, count=3)
        report = await wait_for_csv(slack)
        await bot.settled()
        items, events = await items_and_events(bot)
    assert nylas.grants == {}
    assert Counter(item.status for item in items) == {"revoked": 3}  # none failed
    assert Counter(e.email for e in events if e.action == "grant.revoked") == {
        f"user{index}@acme.com": 1 for index in range(3)
    }
    assert len(run_csv_rows(report)) == 3


async def test_a_delete_still_under_way_at_the_cancel_is_found_by_the_final_look(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The bot stopped waiting for a DELETE that Nylas carries out only later: the cancel's
    look still finds the grant, so the user stays in doubt until the final look finds it gone."""
    settings = revoking_settings(
        make_settings,
        slack,
        bulkauth_nylas_concurrency=1,
        bulkauth_nylas_timeout_seconds=2,
        bulkauth_lookup_delay_seconds=3,
    )
    async with run_bot(settings) as bot:
        nylas.hold(GRANT_PAGE, after=1, method="DELETE")  # the canary goes; user1's waits
        await start_revocation(bot, slack, nylas, count=5)
        await nylas.wait_held(1)
        progress = await slack.wait_for("chat.postMessage", is_run_progress)
        clicked = time.monotonic()
        await Person(bot, slack, ADMIN).click(progress[0], "Cancel")
        await cancel_landed(bot, run_id=1)
        report = await wait_for_csv(slack)  # after user1's DELETE timed out, and a first look
        nylas.release()  # Nylas deletes user1's grant only now
        lookups = await nylas.wait_for("GET", GRANT_PAGE, count=2)
        await bot.deps.run_engine.wait_stopped(1, timeout=10)
        items, events = await items_and_events(bot)
    assert Counter(row["outcome"] for row in run_csv_rows(report))["pending"] == 4
    assert [r.status for r in lookups] == [200, 404]
    # The final look waited BULKAUTH_LOOKUP_DELAY_SECONDS from the run's end, the cancel (it
    # used to be timed from the first look, at the DELETE's 2 s timeout: 0.9995 s apart once).
    assert lookups[1].at - clicked >= 3.0
    assert Counter(e.email for e in events if e.action == "grant.revoked") == {
        "user0@acme.com": 1,
        "user1@acme.com": 1,
    }
    assert Counter(item.status for item in items) == {"revoked": 2, "pending": 3}
