"""Decisions on runs hold under faults and tampering: approve, reject and cancel apply only to
the run of the message clicked, by people allowed to, and a run always has a place to report."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import select

from storage.audit import AuditFilter, latest_events
from storage.models import BulkRun, ConsentRequest, utcnow
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import request_approval, run_csv_rows, seed_credential, wait_for_csv
from tests.slack_requests import slash_command
from tests.slack_ui import Person, message_click

APPROVER = "U0APPROVER"
APPROVALS = "C0APPROVALS"


@pytest.fixture
async def approval_bot(make_settings: SettingsFactory, slack: FakeSlack):  # type: ignore[no-untyped-def]
    slack.add_user(APPROVER, "Ann Approver")  # an approver who is not a bot admin
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_progress_interval_seconds=0.5,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[APPROVER],
    )
    async with run_bot(settings) as running:
        yield running


def users(count: int) -> str:
    return "\n".join(f"user{index}@acme.com" for index in range(count))


async def requested(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, count: int = 3
) -> SlackCall:
    credential = await seed_credential(bot, nylas)
    return await request_approval(bot, slack, credential, users(count))


async def run_of(bot: RunningBot, run_id: int) -> BulkRun:
    async with bot.deps.sessions() as session:
        run = await session.get(BulkRun, run_id)
        assert run is not None
        await session.refresh(run)
        return run


async def tampered_click(
    bot: RunningBot, slack: FakeSlack, message: SlackCall, text: str, user_id: str, **value: Any
) -> None:
    """A click derived from the real message whose button value was altered on its way."""
    answer = await slack.answer_of(message)
    payload = message_click(slack, user_id, str(answer["channel"]), str(answer["ts"]), text)
    payload["actions"][0]["value"] = json.dumps(value)
    response = await bot.interact(payload)
    assert response.status == 200


@pytest.mark.parametrize(
    ("failure", "words"),
    [("refused", "not_in_channel"), ("unreachable", "Slack did not answer")],
)
async def test_an_approval_whose_message_cannot_be_edited_still_reports(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str, words: str
) -> None:
    """The bot was removed from the approval channel after the request, or Slack never answers
    there (the connection drops, and the client's retries too): the approver is told, the
    requester gets the news, the progress, the summary and the CSV by DM. Unanswered, the
    approval used to stop at the request's edit: the run was approved and never started."""
    request = await requested(approval_bot, slack, nylas)
    if failure == "refused":
        slack.left_channels.add(APPROVALS)
    else:
        slack.dropped_channels.add(APPROVALS)
    await Person(approval_bot, slack, APPROVER).click(request, "Approve")
    report = await wait_for_csv(slack)
    assert len(run_csv_rows(report)) == 3
    requester_dm = "D" + ADMIN[1:]
    progress = [c for c in slack.calls_to("chat.postMessage") if "Run 1" in c.text_blob()]
    assert {c.params["channel"] for c in progress} >= {APPROVALS, ADMIN}
    assert [u.channel_id for u in slack.uploads.values() if u.content] == [requester_dm]
    told = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ADMIN]
    assert any("Approved" in c.text_blob() for c in told)
    [note] = await slack.wait_for("chat.postMessage", lambda c: "could not be" in c.text_blob())
    assert note.params["channel"] == APPROVER and words in note.text_blob()
    assert (await run_of(approval_bot, 1)).status == "finished"


@pytest.mark.parametrize(
    ("failure", "words"),
    [("refused", "Slack refused (not_in_channel)"), ("unreachable", "Slack did not answer")],
)
async def test_a_rejection_whose_message_cannot_be_edited_tells_the_approver(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str, words: str
) -> None:
    """The request's buttons could not be replaced by the decision: the rejection stands, the
    requester hears of it, and the approver is told why the message still shows its buttons."""
    request = await requested(approval_bot, slack, nylas)
    approver = Person(approval_bot, slack, APPROVER)
    await approver.click(request, "Reject")
    reason = await approver.next_modal(lambda c: "reject_reason" in c.text_blob())
    reason.type("Reason", "Wrong tenant")
    (slack.left_channels if failure == "refused" else slack.dropped_channels).add(APPROVALS)
    assert (await reason.submit()).status == 200
    [note] = await slack.wait_for("chat.postMessage", lambda c: "could not be" in c.text_blob())
    assert note.params["channel"] == APPROVER
    assert f"Run 1 is rejected, but its request message could not be updated: {words}." in (
        note.text_blob()
    )
    told = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ADMIN]
    assert any("Rejected" in c.text_blob() for c in told)
    assert (await run_of(approval_bot, 1)).status == "rejected"
    assert nylas.calls("POST", ".*custom") == []


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_an_approval_the_requester_cannot_be_told_of_still_starts_the_run(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """Slack refused the requester's DM, or never answered it (the connection dropped, and the
    client's retries too): the run starts all the same, its progress, summary and CSV in the
    approval thread. Unanswered, the approval stopped there: approved, the run never started."""
    request = await requested(approval_bot, slack, nylas)
    out_of_reach = slack.left_channels if failure == "refused" else slack.dropped_channels
    out_of_reach.add(ADMIN)  # the requester's DM
    await Person(approval_bot, slack, APPROVER).click(request, "Approve")
    report = await wait_for_csv(slack)
    assert len(run_csv_rows(report)) == 3
    assert [u.channel_id for u in slack.uploads.values() if u.content] == [APPROVALS]
    assert (await run_of(approval_bot, 1)).status == "finished"


async def test_a_decision_applies_only_to_the_run_of_its_message(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    first = await requested(approval_bot, slack, nylas)
    credential_two = await seed_credential(approval_bot, nylas, name="beta.com")
    await request_approval(approval_bot, slack, credential_two, "x@beta.com")
    await tampered_click(approval_bot, slack, first, "Approve", APPROVER, run_id=2)
    [refusal] = await slack.wait_for("chat.postEphemeral", lambda c: "belong" in c.text_blob())
    assert refusal.params["user"] == APPROVER
    await approval_bot.settled()
    assert [(await run_of(approval_bot, i)).status for i in (1, 2)] == ["awaiting_approval"] * 2
    first_answer = await slack.answer_of(first)
    shown = slack.messages[(str(first_answer["channel"]), str(first_answer["ts"]))]
    assert "Approve" in json.dumps(shown["blocks"])  # the clicked message was not overwritten
    assert nylas.calls("POST", ".*custom") == []


@pytest.mark.parametrize("value", [{"run_id": 2**70}, {"run_id": "1; DROP"}, {"nothing": 1}])
async def test_a_damaged_button_value_is_refused_clearly(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, value: dict[str, Any]
) -> None:
    request = await requested(approval_bot, slack, nylas)
    await tampered_click(approval_bot, slack, request, "Approve", APPROVER, **value)
    [told] = await slack.wait_for("chat.postEphemeral")
    assert "did not make" in told.text_blob() and "went wrong" not in told.text_blob()
    assert (await run_of(approval_bot, 1)).status == "awaiting_approval"


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_refusal_slack_did_not_show_in_the_channel_comes_as_a_dm(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """A refusal is shown in the channel, to the person who clicked only. Slack refused it
    there, or never answered (the connection dropped, and the client's retries too): it comes
    as a DM. Unanswered, the person was told nothing."""
    request = await requested(approval_bot, slack, nylas)
    out_of_reach = slack.left_channels if failure == "refused" else slack.dropped_channels
    out_of_reach.add(APPROVALS)
    await Person(approval_bot, slack, ADMIN).click(request, "Approve")  # their own request
    [told] = await slack.wait_for(
        "chat.postMessage",
        lambda c: c.params["channel"] == ADMIN and "own request" in c.text_blob(),
    )
    assert told.response is not None and told.response["ok"]
    assert (await run_of(approval_bot, 1)).status == "awaiting_approval"


async def test_a_huge_run_id_in_an_audit_filter_is_refused_clearly_on_postgresql(
    make_settings: SettingsFactory, slack: FakeSlack, postgres_server: Any
) -> None:
    settings = make_settings(database_url=await postgres_server.new_database())
    async with run_bot(settings) as bot:
        response = await bot.command(slash_command("audit 99999999999", user_id=ADMIN))
        answer = json.loads(await response.text())
    assert "There is no run 99999999999" in answer["text"]


async def test_an_approver_may_cancel_a_running_run_and_is_named(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    slack.add_user(APPROVER, "Ann Approver")
    nylas.latency = 0.05
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[APPROVER],
        bulkauth_nylas_rps=20,
        bulkauth_nylas_concurrency=2,
    )
    async with run_bot(settings) as bot:
        request = await requested(bot, slack, nylas, count=200)
        await Person(bot, slack, APPROVER).click(request, "Approve")
        await nylas.wait_for("POST", "/v3/connect/custom", count=3)
        [progress] = await slack.wait_for(
            "chat.postMessage",
            lambda c: bool(c.params.get("thread_ts")) and "Run 1" in c.text_blob(),
        )
        await Person(bot, slack, OUTSIDER).click(progress, "Cancel")
        [refusal] = await slack.wait_for(
            "chat.postEphemeral", lambda c: "may cancel" in c.text_blob()
        )
        assert refusal.params["user"] == OUTSIDER
        await Person(bot, slack, APPROVER).click(progress, "Cancel")
        await wait_for_csv(slack)
        await bot.settled()
        async with bot.deps.sessions() as session:
            [cancelled] = await latest_events(
                session=session, filters=AuditFilter(action_prefix="run.cancelled")
            )
        run = await run_of(bot, 1)
    assert (cancelled.actor_id, cancelled.actor_name) == (APPROVER, "Ann Approver")
    assert run.status == "cancelled"
    assert f"cancelled by <@{APPROVER}>" in slack.calls_to("chat.update")[-1].text_blob()


async def test_a_request_can_be_withdrawn_before_a_decision(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    request = await requested(approval_bot, slack, nylas)
    button = next(
        element
        for block in request.params["blocks"]
        for element in block.get("elements") or []
        if element.get("text", {}).get("text") == "Cancel request"
    )
    assert button["confirm"]["confirm"]["text"] == "Cancel run"  # Slack asks first
    await Person(approval_bot, slack, ADMIN).click(request, "Cancel request")
    answer = await slack.answer_of(request)
    closed = await slack.wait_for(
        "chat.update", lambda c: c.params["ts"] == answer["ts"] and "Cancelled by" in c.text_blob()
    )
    assert "Approve" not in json.dumps(closed[-1].params["blocks"])
    await approval_bot.settled()
    assert (await run_of(approval_bot, 1)).status == "cancelled"
    assert nylas.calls("POST", ".*custom") == []


async def test_a_cancel_button_cannot_be_pointed_at_another_run(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    request = await requested(approval_bot, slack, nylas)
    credential_two = await seed_credential(approval_bot, nylas, name="beta.com")
    await request_approval(approval_bot, slack, credential_two, "x@beta.com")
    await tampered_click(approval_bot, slack, request, "Cancel request", ADMIN, run_id=2)
    await slack.wait_for("chat.postEphemeral", lambda c: "belong" in c.text_blob())
    await approval_bot.settled()
    assert (await run_of(approval_bot, 2)).status == "awaiting_approval"


async def test_consent_was_granted_is_refused_on_an_expired_link(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    from tests.handlers.test_consent import request_link
    from tests.handlers.test_consent import seed_credential as seed_microsoft

    async with run_bot(make_settings()) as bot:
        await seed_microsoft(bot)
        posted = await request_link(bot, slack, "contoso.com")
        async with bot.deps.sessions() as session:
            await session.exec(
                update(ConsentRequest).values(expires_at=utcnow() - timedelta(minutes=1))
            )
            await session.commit()
        await Person(bot, slack, ADMIN).click(posted, "Consent was granted")
        [told] = await slack.wait_for("chat.postEphemeral", lambda c: "expired" in c.text_blob())
        async with bot.deps.sessions() as session:
            consent = (await session.exec(select(ConsentRequest))).one()
    assert consent.status == "pending" and consent.consented_at is None
    assert told.params["user"] == ADMIN
