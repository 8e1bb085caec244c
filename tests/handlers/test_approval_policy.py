"""The approval policy end to end: a reason on every request, the two-person rule, approvers
from a user group, expiry and one reminder, stale approvals, through the running bot."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from storage.audit import AuditFilter, latest_events
from storage.models import BulkRun, CredentialRecord, RunApproval, utcnow
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import (
    confirm,
    fill_request,
    is_approval_request,
    open_request,
    plan,
    request_approval,
    run_csv_preamble,
    run_csv_rows,
    seed_credential,
    wait_for_csv,
)
from tests.slack_ui import Person

ANN, BOB, CAT = "U0ANN", "U0BOB", "U0CAT"
APPROVALS = "C0APPROVALS"
GROUP = "S0APPROVERS"


def users(count: int) -> str:
    return "\n".join(f"user{index}@acme.com" for index in range(count))


@pytest.fixture
def people(slack: FakeSlack) -> None:
    slack.add_user(ANN, "Ann")
    slack.add_user(BOB, "Bob")
    slack.add_user(CAT, "Cat")


@pytest.fixture
async def two_person_bot(make_settings: SettingsFactory, slack: FakeSlack, people: None):  # type: ignore[no-untyped-def]
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[ANN, BOB],
        bulkauth_two_approvals_above_users=2,
    )
    async with run_bot(settings) as running:
        yield running


async def run_of(bot: RunningBot, run_id: int = 1) -> BulkRun:
    async with bot.deps.sessions() as session:
        run = await session.get(BulkRun, run_id)
        assert run is not None
        await session.refresh(run)
        return run


async def events(bot: RunningBot, action: str) -> list[object]:
    async with bot.deps.sessions() as session:
        return list(await latest_events(session=session, filters=AuditFilter(action_prefix=action)))


async def refusal_to(slack: FakeSlack, user: str, words: str) -> SlackCall:
    [told] = await slack.wait_for(
        "chat.postEphemeral", lambda c: c.params["user"] == user and words in c.text_blob()
    )
    return told


# --- 1. a reason on every request ------------------------------------------------------------


async def test_the_reason_is_required_and_shown_to_approvers_in_progress_and_the_audit(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    modal = await open_request(Person(two_person_bot, slack, ADMIN), credential)
    fill_request(modal, users="a@acme.com", reason="   ")
    refused = await modal.submit()
    assert "Say why" in json.dumps(refused.ack.get("errors") or {})
    request = await request_approval(two_person_bot, slack, credential, "a@acme.com")
    assert "*Reason:* Onboarding the customer's team" in request.text_blob()
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await wait_for_csv(slack)
    progress = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert "*Reason:* Onboarding the customer's team" in progress[0].text_blob()
    [requested] = await events(two_person_bot, "run.requested")
    assert json.loads(requested.details)["reason"] == "Onboarding the customer's team"  # type: ignore[attr-defined]


# --- 2. the two-person rule --------------------------------------------------------------------


async def test_a_large_request_needs_two_distinct_approvers(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(3))
    assert "0 of 2 approvals" in request.text_blob()
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await slack.wait_for("chat.update", lambda c: "1 of 2 approvals (Ann)" in c.text_blob())
    await two_person_bot.settled()
    assert (await run_of(two_person_bot)).status == "awaiting_approval"
    # the same person again: refused, still one approval
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await refusal_to(slack, ANN, "already approved")
    # the requester as second approver: refused
    await Person(two_person_bot, slack, ADMIN).click(request, "Approve")
    await refusal_to(slack, ADMIN, "your own request")
    await two_person_bot.settled()
    assert (await run_of(two_person_bot)).status == "awaiting_approval"
    await Person(two_person_bot, slack, BOB).click(request, "Approve")
    report = await wait_for_csv(slack)
    assert len(run_csv_rows(report)) == 3
    assert run_csv_preamble(report) == [
        "# bulkauth run 1 · grant · credential acme.com",
        f"# requested by Ada Admin ({ADMIN})",
        "# reason: Onboarding the customer's team",
        f"# approved by: Ann ({ANN}), Bob ({BOB})",
    ]
    async with two_person_bot.deps.sessions() as session:
        approvals = (await session.exec(select(RunApproval))).all()
    assert [a.approver_id for a in approvals] == [ANN, BOB]
    approved = await events(two_person_bot, "run.approved")
    assert sorted(e.outcome for e in approved) == ["ok", "partial"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_first_approval_slack_did_not_show_still_counts_without_a_false_alarm(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """The request's edit to "1 of 2 approvals" was refused, or never answered (the connection
    dropped, and the client's retries too): the approval counts and the second one starts the
    run. Unanswered, the approver was told something went wrong, their approval recorded all
    the same."""
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(3))
    if failure == "refused":
        slack.fail_next("chat.update", status=200, error="internal_error", retry_after=None)
    else:
        slack.drop_next("chat.update", times=3)  # the call and the client's two retries
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await two_person_bot.settled()
    assert not [c for c in slack.calls if "went wrong" in c.text_blob()]
    await Person(two_person_bot, slack, BOB).click(request, "Approve")
    assert len(run_csv_rows(await wait_for_csv(slack))) == 3


async def test_a_small_request_needs_one_approval(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(2))
    assert "0 of 1 approval" in request.text_blob()
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await wait_for_csv(slack)
    assert (await run_of(two_person_bot)).status == "finished"


async def test_one_rejection_ends_a_partly_approved_request(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(3))
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await slack.wait_for("chat.update", lambda c: "1 of 2" in c.text_blob())
    bob = Person(two_person_bot, slack, BOB)
    await bob.click(request, "Reject")
    modal = await bob.next_modal(lambda c: "reject_reason" in c.text_blob())
    modal.type("Reason", "not this week")
    await modal.submit()
    await slack.wait_for("chat.update", lambda c: "Rejected by" in c.text_blob())
    await two_person_bot.settled()
    assert (await run_of(two_person_bot)).status == "rejected"
    assert nylas.calls("POST", ".*custom") == []


# --- 3. approvers from a Slack user group --------------------------------------------------------


@pytest.mark.parametrize("configured", [GROUP, "@approvers"])
async def test_a_group_member_approves_and_a_removed_member_is_refused(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    people: None,
    configured: str,
) -> None:
    slack.usergroups[GROUP] = ("approvers", [ANN, CAT])
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[BOB],
        bulkauth_approver_group=configured,
    )
    async with run_bot(settings) as bot:
        credential = await seed_credential(bot, nylas)
        request = await request_approval(bot, slack, credential, users(1))
        slack.usergroups[GROUP] = ("approvers", [ANN])  # Cat left the group after the request
        await Person(bot, slack, CAT).click(request, "Approve")
        await refusal_to(slack, CAT, "Only approvers")
        await bot.settled()
        assert (await run_of(bot)).status == "awaiting_approval"
        assert slack.calls_to("usergroups.users.list")
        await Person(bot, slack, ANN).click(request, "Approve")
        await wait_for_csv(slack)
        assert (await run_of(bot)).approved_by == ANN


async def test_listed_approvers_still_decide_alongside_the_group(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, people: None
) -> None:
    slack.usergroups[GROUP] = ("approvers", [ANN])
    settings = make_settings(
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[BOB],
        bulkauth_approver_group=GROUP,
    )
    async with run_bot(settings) as bot:
        credential = await seed_credential(bot, nylas)
        request = await request_approval(bot, slack, credential, users(1))
        await Person(bot, slack, BOB).click(request, "Approve")
        await wait_for_csv(slack)


# --- 4. expiry and one reminder ----------------------------------------------------------------


async def backdate(bot: RunningBot, **values: object) -> None:
    """Move the request's times into the past, as if the hours had passed."""
    async with bot.deps.sessions() as session:
        await session.exec(update(BulkRun).where(BulkRun.id == 1).values(**values))  # type: ignore[arg-type]
        await session.commit()


async def test_a_click_after_expiry_is_refused_and_the_request_closes(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(1))
    run = await run_of(two_person_bot)
    assert run.expires_at is not None and run.remind_at is not None
    await backdate(two_person_bot, expires_at=utcnow() - timedelta(seconds=1), remind_at=None)
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await refusal_to(slack, ANN, "expired")
    await slack.wait_for("chat.update", lambda c: "Expired at" in c.text_blob())
    told = await slack.wait_for(
        "chat.postMessage", lambda c: c.params["channel"] == ADMIN and "expired" in c.text_blob()
    )
    assert len(told) == 1
    await two_person_bot.settled()
    assert (await run_of(two_person_bot)).status == "expired"
    assert len(await events(two_person_bot, "run.expired")) == 1
    assert nylas.calls("POST", ".*custom") == []


async def test_an_undecided_request_expires_by_itself(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(1))
    await backdate(two_person_bot, expires_at=utcnow() - timedelta(seconds=1))
    answer = await slack.answer_of(request)
    [closed] = await slack.wait_for(
        "chat.update", lambda c: c.params["ts"] == answer["ts"] and "Expired" in c.text_blob()
    )
    assert "Approve" not in json.dumps(closed.params["blocks"])


async def test_an_expiry_slack_could_not_show_in_the_channel_still_tells_the_requester(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The request's message could not be closed (Slack unreachable: the connection dropped,
    and the client's retries too): the requester is told all the same. The failure used to end
    the expiry there, and nobody heard of it."""
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(1))
    await slack.answer_of(request)
    slack.drop_next("chat.update", times=3)  # the call and the client's two retries
    await backdate(two_person_bot, expires_at=utcnow() - timedelta(seconds=1))
    told = "expired without a decision"
    await slack.wait_for("chat.postMessage", lambda c: told in c.text_blob())


async def test_two_replicas_remind_the_approvers_exactly_once(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, people: None
) -> None:
    slack.usergroups[GROUP] = ("approvers", [ANN])
    settings = make_settings(
        bulkauth_run_scan_seconds=0.1,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[BOB],
        bulkauth_approver_group=GROUP,
    )
    async with run_bot(settings) as first, run_bot(settings) as second:
        credential = await seed_credential(first, nylas)
        request = await request_approval(first, slack, credential, users(1))
        await backdate(first, remind_at=utcnow() - timedelta(seconds=1))
        answer = await slack.answer_of(request)

        def reminder(call: SlackCall) -> bool:
            return (
                call.params.get("thread_ts") == answer["ts"] and "still awaits" in call.text_blob()
            )

        [posted] = await slack.wait_for("chat.postMessage", reminder)
        # several more sweeps of both replicas: still one reminder
        await second.deps.approvals.sweep()
        await first.deps.approvals.sweep()
        assert len([c for c in slack.calls_to("chat.postMessage") if reminder(c)]) == 1
    assert f"<!subteam^{GROUP}>" in posted.text_blob() and f"<@{BOB}>" in posted.text_blob()


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_reminder_slack_did_not_post_is_posted_by_a_later_sweep(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, people: None, failure: str
) -> None:
    """Slack refused the reminder, or never answered (the connection dropped, and the client's
    retries too): it stays owed, the next sweep posts it, and the audit log says so once. It used
    to be claimed and audited before its post, and lost. (The sweeps are the test's own: the
    scheduled one comes once an hour here.)"""
    settings = make_settings(
        bulkauth_run_scan_seconds=3600,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[ANN, BOB],
    )
    async with run_bot(settings) as bot:
        credential = await seed_credential(bot, nylas)
        request = await request_approval(bot, slack, credential, users(1))
        answer = await slack.answer_of(request)
        await backdate(bot, remind_at=utcnow() - timedelta(seconds=1))

        def reminders() -> list[SlackCall]:
            return [
                call
                for call in slack.calls_to("chat.postMessage")
                if call.params.get("thread_ts") == answer["ts"]
                and "still awaits" in call.text_blob()
                and (call.response or {}).get("ok")
            ]

        if failure == "unreachable":
            slack.drop_next("chat.postMessage", times=3)  # the call and the client's two retries
        else:
            slack.fail_next("chat.postMessage", status=200, error="internal_error")
        await bot.deps.approvals.sweep()
        assert reminders() == [] and await events(bot, "run.reminded") == []
        await bot.deps.approvals.sweep()
        assert len(reminders()) == 1 and len(await events(bot, "run.reminded")) == 1
        await bot.deps.approvals.sweep()  # owed no more
        assert len(reminders()) == 1 and len(await events(bot, "run.reminded")) == 1


# --- 5. stale approvals ------------------------------------------------------------------------


async def test_an_approval_after_the_credential_was_rotated_is_refused(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(1))
    async with two_person_bot.deps.sessions() as session:
        await session.exec(
            update(CredentialRecord)  # type: ignore[arg-type]
            .where(CredentialRecord.id == credential.id)  # type: ignore[arg-type]
            .values(private_key_id="rotated-key-id")
        )
        await session.commit()
    await Person(two_person_bot, slack, ANN).click(request, "Approve")
    await refusal_to(slack, ANN, "was rotated after the plan")
    await two_person_bot.settled()
    assert (await run_of(two_person_bot)).status == "awaiting_approval"
    assert nylas.calls("POST", ".*custom") == []


async def test_an_approval_of_an_older_plan_for_the_same_users_is_refused(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    older = await request_approval(two_person_bot, slack, credential, users(1))
    newer = await request_approval(two_person_bot, slack, credential, users(1))
    await Person(two_person_bot, slack, ANN).click(older, "Approve")
    await refusal_to(slack, ANN, "run 2 is a newer plan")
    await Person(two_person_bot, slack, ANN).click(newer, "Approve")
    await wait_for_csv(slack)
    assert (await run_of(two_person_bot, 2)).status == "finished"


async def test_a_withdrawn_newer_plan_leaves_the_older_one_approvable(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    older = await request_approval(two_person_bot, slack, credential, users(1))
    newer = await request_approval(two_person_bot, slack, credential, users(1))
    await Person(two_person_bot, slack, ADMIN).click(newer, "Cancel request")
    await two_person_bot.settled()
    assert (await run_of(two_person_bot, 2)).status == "cancelled"
    await Person(two_person_bot, slack, ANN).click(older, "Approve")
    await wait_for_csv(slack)
    assert (await run_of(two_person_bot, 1)).status == "finished"


# --- 6. confirmation dialogs -------------------------------------------------------------------


async def test_approve_and_reject_ask_to_confirm_first(
    two_person_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(two_person_bot, nylas)
    request = await request_approval(two_person_bot, slack, credential, users(3))
    buttons = {
        element["text"]["text"]: element
        for block in request.params["blocks"]
        for element in block.get("elements") or []
        if element.get("type") == "button"
    }
    assert buttons["Approve"]["confirm"]["text"]["text"] == "Create 3 grants for acme.com?"
    assert buttons["Reject"]["confirm"]["confirm"]["text"] == "Reject"
    assert is_approval_request(request)


async def test_without_an_approval_channel_the_reason_still_reaches_the_progress(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    await confirm(bot, await plan(bot, slack, credential, "a@acme.com", reason="Ticket OPS-1"))
    await wait_for_csv(slack)
    assert any("Ticket OPS-1" in c.text_blob() for c in slack.calls_to("chat.postMessage"))
