"""Revocation runs end to end through the running bot: the modal, the dry run, the approval
(always someone other than the requester; in a DM with the other approvers when there is no
approval channel), the DELETEs, the CSV and the audit; and undoing a grant run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from storage.models import AuditEvent, BulkRun
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import (
    PASTE_LIMIT,
    approval_request,
    confirm,
    plan,
    run_csv_preamble,
    seed_credential,
    wait_for_csv,
)
from tests.runs.conftest import RUN_SETTINGS, csv_rows, users
from tests.slack_ui import Modal, Person

ANN, BOB = "U0ANN", "U0BOB"
REASON = "Acme's contract ended (OPS-456)"


@pytest.fixture
async def bot(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[RunningBot]:
    """No approval channel; three admins, so a revocation (two approvals) can be approved by
    the two who did not ask for it."""
    slack.add_user(ANN, "Ann")
    slack.add_user(BOB, "Bob")
    settings = make_settings(
        **RUN_SETTINGS, bulkauth_max_users=5000, bulkauth_admins=[ADMIN, ANN, BOB]
    )
    async with run_bot(settings) as running:
        yield running


async def revoke_plan(
    bot: RunningBot, slack: FakeSlack, credential_label: str, people: str, *, reason: str = REASON
) -> Modal:
    modal = await Person(bot, slack, ADMIN).open_modal("revoke")
    assert "permanent" in modal.text() and "re-authentication" in modal.text()
    await modal.choose("Credential", credential_label)
    if len(people) > PASTE_LIMIT:  # as the field's hint says: a long list goes in a file
        modal.attach("…or a CSV/TXT file", slack.host_file(people.encode(), filename="u.txt"))
    else:
        modal.type("Users", people)
    modal.type("Reason", reason)
    submitted = await modal.submit()
    assert submitted.ack.get("response_action") == "update", submitted.ack
    return await modal.wait_for("Dry run")


async def test_a_revocation_is_planned_approved_in_a_dm_by_two_others_and_deletes_the_grants(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    other = await seed_credential(bot, nylas, name="other.com")
    gone = [
        nylas.add_grant(f"user{i}@acme.com", credential_id=credential.nylas_credential_id)
        for i in range(3)
    ]
    kept = nylas.add_grant("user3@acme.com", credential_id=other.nylas_credential_id)
    shown = await revoke_plan(bot, slack, "acme.com (Google)", users(5))
    text = shown.text()
    assert "3 have a grant of this credential: it will be deleted" in text
    assert "2 have no grant of this credential: nothing to do" in text
    assert "3 DELETE calls" in text
    await confirm(bot, shown)
    request = await approval_request(slack, bot)
    channel = (await slack.answer_of(request))["channel"]
    assert channel.startswith("G")  # a group DM with the two other admins, not a channel
    assert "revoke grants" in request.text_blob() and REASON in request.text_blob()

    refused = await Person(bot, slack, ADMIN).click(request, "Approve")
    assert refused.status == 200
    await slack.wait_for(
        "chat.postEphemeral",
        lambda c: c.params["user"] == ADMIN and "your own request" in c.text_blob(),
    )
    assert not nylas.calls("DELETE", r"/v3/grants/.*")
    await Person(bot, slack, ANN).click(request, "Approve")
    await bot.settled()
    assert not nylas.calls("DELETE", r"/v3/grants/.*")  # two approvals needed
    await Person(bot, slack, BOB).click(request, "Approve")

    report = await wait_for_csv(slack)
    rows = csv_rows(report)
    assert {email: row["outcome"] for email, row in rows.items()} == {
        "user0@acme.com": "revoked",
        "user1@acme.com": "revoked",
        "user2@acme.com": "revoked",
        "user3@acme.com": "skipped",  # its grant is another credential's
        "user4@acme.com": "skipped",
    }
    assert "reason: " + REASON in run_csv_preamble(report)[2]
    assert set(nylas.grants) == {"user3@acme.com"} and nylas.grants["user3@acme.com"] is kept
    deleted = [call.path.rsplit("/", 1)[1] for call in nylas.calls("DELETE", r"/v3/grants/.*")]
    assert sorted(deleted) == sorted(g["id"] for g in gone)
    async with bot.deps.sessions() as session:
        revoked = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "grant.revoked"))
        ).all()
        run = (await session.exec(select(BulkRun))).one()
    assert run.kind == "revoke" and run.status == "finished"
    assert {event.email for event in revoked} == {f"user{i}@acme.com" for i in range(3)}
    details = json.loads(revoked[0].details)
    assert details["requested_by"] == ADMIN and details["reason"] == REASON
    assert "Ann" in details["approvers"] and "Bob" in details["approvers"]


async def test_a_grant_already_gone_at_delete_time_counts_as_revoked_not_failed(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    for i in range(2):
        nylas.add_grant(f"user{i}@acme.com", credential_id=credential.nylas_credential_id)
    await confirm(bot, await revoke_plan(bot, slack, "acme.com (Google)", users(2)))
    request = await approval_request(slack, bot)
    del nylas.grants["user1@acme.com"]  # someone deleted it after the plan
    await Person(bot, slack, ANN).click(request, "Approve")
    await Person(bot, slack, BOB).click(request, "Approve")
    rows = csv_rows(await wait_for_csv(slack))
    assert rows["user1@acme.com"]["outcome"] == "revoked"
    assert "already revoked" in rows["user1@acme.com"]["error"]
    assert rows["user0@acme.com"]["error"] == ""
    assert not nylas.grants


async def test_a_revocation_without_anyone_else_to_approve_is_withdrawn(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    async with run_bot(make_settings(**RUN_SETTINGS)) as bot:  # ADMIN is the only admin
        credential = await seed_credential(bot, nylas)
        nylas.add_grant("user0@acme.com", credential_id=credential.nylas_credential_id)
        shown = await revoke_plan(bot, slack, "acme.com (Google)", users(1))
        assert "Request approval" in shown.text() and "Start run" not in shown.text()
        await confirm(bot, shown)
        await shown.wait_for("withdrawn")
        await bot.settled()
        async with bot.deps.sessions() as session:
            run = (await session.exec(select(BulkRun))).one()
        assert run.status == "cancelled"
        assert not nylas.calls("DELETE", r"/v3/grants/.*") and nylas.grants


async def test_the_reason_is_required(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas) -> None:
    await seed_credential(bot, nylas)
    modal = await Person(bot, slack, ADMIN).open_modal("revoke")
    await modal.choose("Credential", "acme.com (Google)")
    modal.type("Users", "ann@acme.com")
    modal.type("Reason", "   ")
    submitted = await modal.submit()
    assert submitted.ack.get("response_action") == "errors"
    assert "Reason" in json.dumps(submitted.ack) or submitted.ack["errors"]


async def test_undo_revokes_exactly_the_grants_the_run_created(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    old_valid = nylas.add_grant("user0@acme.com", credential_id=credential.nylas_credential_id)
    old_invalid = nylas.add_grant(
        "user1@acme.com", status="invalid", credential_id=credential.nylas_credential_id
    )
    await confirm(bot, await plan(bot, slack, credential, users(5)))  # starts at once
    await wait_for_csv(slack)
    await bot.settled()
    assert len(nylas.grants) == 5
    created = {
        e: g["id"] for e, g in nylas.grants.items() if e not in ("user0@acme.com", "user1@acme.com")
    }
    summary = next(
        call
        for call in slack.calls_to("chat.postMessage")
        if "Run 1" in call.text_blob() and call.params.get("thread_ts") is None
    )
    undo = Person(bot, slack, ADMIN)
    await undo.click(summary, "Revoke the grants this run created")
    modal = await undo.next_modal()
    assert "the 3 users whose grants run 1 created" in modal.text()
    modal.type("Reason", "Sent to the wrong list")
    submitted = await modal.submit()
    assert submitted.ack.get("response_action") == "update", submitted.ack
    shown = await modal.wait_for("Dry run")
    assert "3 have a grant of this credential" in shown.text()
    await confirm(bot, shown)
    request = await approval_request(slack, bot)
    await Person(bot, slack, ANN).click(request, "Approve")
    await Person(bot, slack, BOB).click(request, "Approve")
    await wait_for_csv(slack, count=2)
    deleted = {call.path.rsplit("/", 1)[1] for call in nylas.calls("DELETE", r"/v3/grants/.*")}
    assert deleted == set(created.values())
    assert set(nylas.grants) == {"user0@acme.com", "user1@acme.com"}
    assert nylas.grants["user0@acme.com"]["id"] == old_valid["id"]
    assert nylas.grants["user1@acme.com"]["id"] == old_invalid["id"]
