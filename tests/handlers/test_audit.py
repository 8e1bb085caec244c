"""`/bulkauth audit [filter]` and its Export CSV button, through the running bot."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from storage.audit import (
    Actor,
    AuditAction,
    AuditFilter,
    EventSpec,
    Subject,
    count_events,
    latest_events,
    record_events,
)
from storage.models import RunItem, as_utc
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import approve, request_approval, seed_credential, wait_for_csv
from tests.slack_requests import slash_command
from tests.slack_ui import Person

APPROVER = "U0APPROVER"
APPROVALS = "C0APPROVALS"


@pytest.fixture
async def bot(make_settings: SettingsFactory, slack: FakeSlack):  # type: ignore[no-untyped-def]
    slack.add_user(APPROVER, "Ann Approver")
    slack.users[ADMIN].tz = "Asia/Tokyo"  # the viewer's zone: event times are shown in it
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_progress_interval_seconds=0.5,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[APPROVER],
    )
    async with run_bot(settings) as running:
        yield running


async def approved_run(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas) -> None:
    """acme.com: three users requested by the admin, approved by Ann, run to the end."""
    credential = await seed_credential(bot, nylas)
    users = "user0@acme.com\nuser1@acme.com\nuser2@acme.com"
    request = await request_approval(bot, slack, credential, users)
    await approve(bot, slack, request, approver=APPROVER)
    await wait_for_csv(slack)
    await bot.settled()


async def ask(bot: RunningBot, slack: FakeSlack, text: str, *, user_id: str = ADMIN) -> SlackCall:
    """`/bulkauth audit <text>`; returns the ephemeral answer posted to the response URL."""
    before = len(slack.calls_to("response_url"))
    response = await bot.command(
        slash_command(f"audit {text}", user_id=user_id, response_url=slack.response_url())
    )
    assert response.status == 200 and not await response.text()  # acked at once, empty
    calls = await slack.wait_for("response_url", count=before + 1)
    return calls[-1]


def event_texts(answer: SlackCall) -> list[str]:
    """The event sections of an answer (between the heading and the Export button)."""
    blocks = answer.params["blocks"]
    return [block["text"]["text"] for block in blocks[1:] if block["type"] == "section"]


async def test_an_email_shows_who_created_its_grant_who_approved_and_in_which_run(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await approved_run(bot, slack, nylas)
    async with bot.deps.sessions() as session:
        item = (await session.exec(select(RunItem).where(RunItem.email == "user1@acme.com"))).one()
    answer = await ask(bot, slack, "<mailto:User1@acme.com|User1@acme.com>")  # as Slack escapes
    assert answer.params["response_type"] == "ephemeral"
    heading = answer.params["blocks"][0]["text"]["text"]
    assert "mailbox `user1@acme.com`" in heading and "1 of 1 event " in heading
    [line] = event_texts(answer)
    assert "<@U0ADMIN> created a grant for `user1@acme.com`" in line
    assert "run 1" in line and "approved by <@U0APPROVER>" in line
    assert f"grant `{item.grant_id}`" in line and "*acme.com*" in line
    assert item.finished_at is not None
    tokyo = as_utc(item.finished_at).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%Y-%m-%d %H:}" in line and "JST" in line, line
    assert "user0@acme.com" not in json.dumps(answer.params)
    async with bot.deps.sessions() as session:
        [queried] = await latest_events(
            session=session, filters=AuditFilter(action_prefix="audit.queried")
        )
    assert queried.actor_id == ADMIN
    assert json.loads(queried.details)["filter"] == {"email": "user1@acme.com"}


async def test_a_person_a_credential_and_a_run_each_filter_the_log(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await approved_run(bot, slack, nylas)
    by_ann = event_texts(await ask(bot, slack, f"<@{APPROVER}|ann>"))
    assert by_ann and all(line.split(" · ")[1].startswith("<@U0APPROVER>") for line in by_ann)
    assert any("approved run 1" in line for line in by_ann)

    by_name = event_texts(await ask(bot, slack, "ACME.COM"))
    by_id = event_texts(await ask(bot, slack, "cred-google-acme.com"))
    assert len(by_name) == len(by_id) == 7  # requested, approved, started, 3 grants, finished
    assert any("approved run 1" in line for line in by_name), "run events belong to it too"

    for run_filter in ("run 1", "#1", "1"):
        lines = event_texts(await ask(bot, slack, run_filter))
        assert len(lines) == 7 and all("run 1" in line for line in lines)
        assert not any("queried" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nosuchthing", "No credential is named `nosuchthing`"),
        ("bob@", "`bob@` is not a valid email address"),
        ("<#C0OPS|ops>", "is not something the log is kept by"),
    ],
)
async def test_a_filter_that_matches_nothing_says_why_at_once(
    bot: RunningBot, slack: FakeSlack, text: str, says: str
) -> None:
    response = await bot.command(
        slash_command(f"audit {text}", user_id=ADMIN, response_url=slack.response_url())
    )
    answer = json.loads(await response.text())
    assert answer["response_type"] == "ephemeral" and says in answer["text"]
    assert "email address, a person" in answer["text"] or "valid email" in answer["text"]
    await bot.settled()
    assert slack.calls_to("response_url") == []


async def seed_events(bot: RunningBot, count: int, **details: Any) -> None:
    async with bot.deps.sessions() as session:
        specs = [
            EventSpec(
                actor=Actor("cli:ops", "ops"),
                action=AuditAction.GRANT_FAILED,
                outcome="failed",
                subject=Subject(email=f"u{index}@acme.com", run_id=9),
                details={"index": index, **details},
            )
            for index in range(count)
        ]
        await record_events(session=session, specs=specs)
        await session.commit()


async def test_no_filter_shows_the_newest_20_and_export_sends_every_event_to_the_dm(
    bot: RunningBot, slack: FakeSlack
) -> None:
    await seed_events(bot, 30)
    answer = await ask(bot, slack, "")
    lines = event_texts(answer)
    assert len(lines) == 20
    assert "`u29@acme.com`" in lines[0] and "`u10@acme.com`" in lines[-1]  # newest first
    assert "`ops`" in lines[0] and "*failed*" in lines[0]  # a CLI actor is named, not mentioned
    assert "20 of 30 events" in answer.params["blocks"][0]["text"]["text"]
    async with bot.deps.sessions() as session:
        expected = await count_events(session=session)  # the 30, and the search itself
    response = await Person(bot, slack, ADMIN).click(answer, "Export CSV")
    assert response.status == 200
    await slack.wait_for("files.completeUploadExternal")
    [upload] = [u for u in slack.uploads.values() if u.content]
    assert upload.channel_id == "D0ADMIN" and upload.filename.startswith("audit-all-")
    rows = list(csv.DictReader(io.StringIO(upload.content.decode())))
    assert len(rows) == expected == 31
    assert [row["seq"] for row in rows] == [str(seq) for seq in range(1, 32)]  # oldest first
    assert rows[-1]["action"] == "audit.queried"
    told = await slack.wait_for("response_url", lambda c: "direct messages" in c.text_blob())
    assert "31 events" in told[0].text_blob()
    await bot.settled()
    async with bot.deps.sessions() as session:
        [exported] = await latest_events(
            session=session, filters=AuditFilter(action_prefix="audit.exported")
        )
    assert exported.actor_id == ADMIN and json.loads(exported.details)["rows"] == 31


async def test_an_export_holds_only_the_filtered_events(bot: RunningBot, slack: FakeSlack) -> None:
    await seed_events(bot, 25)
    answer = await ask(bot, slack, "u7@acme.com")
    await Person(bot, slack, ADMIN).click(answer, "Export CSV")
    await slack.wait_for("files.completeUploadExternal")
    [upload] = [u for u in slack.uploads.values() if u.content]
    rows = list(csv.DictReader(io.StringIO(upload.content.decode())))
    assert [row["email"] for row in rows] == ["u7@acme.com"]
    assert upload.filename.startswith("audit-u7@acme.com-")


async def test_outsiders_can_neither_search_nor_export(bot: RunningBot, slack: FakeSlack) -> None:
    await seed_events(bot, 3)
    response = await bot.command(slash_command("audit", user_id=OUTSIDER))
    answer = json.loads(await response.text())
    assert "not allowed" in answer["text"] and "u1@acme.com" not in answer["text"]
    # The admin's answer, clicked by someone who is not allowed (as if it were shared).
    await Person(bot, slack, OUTSIDER).click(await ask(bot, slack, ""), "Export CSV")
    refusal = await slack.wait_for("chat.postEphemeral")
    assert refusal[0].params["user"] == OUTSIDER and "not allowed" in refusal[0].text_blob()
    await bot.settled()
    assert slack.calls_to("files.getUploadURLExternal") == []
    async with bot.deps.sessions() as session:
        denied = await latest_events(
            session=session, filters=AuditFilter(action_prefix="access.denied")
        )
        searches = await latest_events(session=session, filters=AuditFilter(action_prefix="audit."))
    assert {event.actor_id for event in denied} == {OUTSIDER} and len(denied) == 2
    assert [(e.action, e.actor_id) for e in searches] == [("audit.queried", ADMIN)]  # no export


async def test_long_details_still_fit_slack_limits(bot: RunningBot, slack: FakeSlack) -> None:
    await seed_events(bot, 25, error="<!channel> " + "x" * 2900)
    answer = await ask(bot, slack, "")  # the fake Slack refuses what real Slack would refuse
    lines = event_texts(answer)
    assert len(lines) == 20 and all(len(line) < 400 for line in lines)
    assert "<!channel>" not in json.dumps(answer.params) and "&lt;!channel&gt;" in lines[0]
