"""`/bulkauth credential delete <name>` through the running bot: what depends on it, the name
typed to confirm, an approver's decision that is never the requester's nor an outsider's, the
DELETE at Nylas, the record kept and marked deleted, the audit; and Nylas's refusal to delete a
connector's default credential shown as such."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.ids import BlockId
from storage.models import AuditEvent, BulkRun, CredentialRecord, RunStatus, utcnow
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import approval_request, confirm, plan, seed_credential, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS
from tests.slack_ui import Modal, Person, assert_refused_in_place

ANN, BOB, CAT = "U0ANN", "U0BOB", "U0CAT"  # Ann and Bob approve; Cat is an admin, not an approver


@pytest.fixture
async def bot(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[RunningBot]:
    for user, name in ((ANN, "Ann"), (BOB, "Bob"), (CAT, "Cat")):
        slack.add_user(user, name)
    settings = make_settings(
        **RUN_SETTINGS, bulkauth_admins=[ADMIN, ANN, BOB, CAT], bulkauth_approvers=[ANN, BOB]
    )
    async with run_bot(settings) as running:
        yield running


async def deletion_form(bot: RunningBot, slack: FakeSlack, name: str) -> Modal:
    modal = await Person(bot, slack, ADMIN).open_modal(f"credential delete {name}")
    return await modal.wait_for("Type the credential")


async def request_deletion(bot: RunningBot, slack: FakeSlack, name: str) -> SlackCall:
    form = await deletion_form(bot, slack, name)
    form.type("Type the credential's name to confirm", name)
    form.type("Reason", "Acme left")
    submitted = await form.submit()
    assert submitted.ack.get("response_action") == "update", submitted.ack
    await form.wait_for("sent for approval")
    return await approval_request(slack, bot)


async def record(bot: RunningBot, name: str) -> CredentialRecord:
    async with bot.deps.sessions() as session:
        return (
            await session.exec(select(CredentialRecord).where(CredentialRecord.name == name))
        ).one()


async def deletion_events(bot: RunningBot) -> list[AuditEvent]:
    async with bot.deps.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "credential.deleted")
        return list((await session.exec(query)).all())


async def test_a_credential_is_deleted_only_after_two_approvers_other_than_the_requester(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    other = await seed_credential(bot, nylas, name="other.com")
    for i in range(3):
        nylas.add_grant(f"old{i}@acme.com", credential_id=credential.nylas_credential_id)
    nylas.add_grant("else@other.com", credential_id=other.nylas_credential_id)
    await confirm(bot, await plan(bot, slack, credential, "new0@acme.com\nnew1@acme.com"))
    await wait_for_csv(slack)

    form = await deletion_form(bot, slack, "acme.com")
    assert "5 grants* at Nylas use it" in form.text()  # 3 found + 2 the run made
    assert "gave 2 mailboxes a grant" in form.text()
    form.type("Type the credential's name to confirm", "acme")
    form.type("Reason", "Acme left")
    wrong = await form.submit()
    assert_refused_in_place(wrong.ack, {BlockId.CONFIRM_NAME: "not the credential's name"})
    form.type("Type the credential's name to confirm", "acme.com")
    submitted = await form.submit()
    assert submitted.ack.get("response_action") == "update"
    await form.wait_for("sent for approval")
    request = await approval_request(slack, bot)
    assert "delete a credential" in request.text_blob() and "Acme left" in request.text_blob()

    for person, words in (
        (ADMIN, "your own request"),
        (CAT, "Only approvers"),
    ):
        await Person(bot, slack, person).click(request, "Approve")
        await slack.wait_for(
            "chat.postEphemeral",
            lambda c, p=person, w=words: c.params["user"] == p and w in c.text_blob(),
        )
    outsider = await Person(bot, slack, OUTSIDER).click(request, "Approve")
    assert outsider.status == 200
    await Person(bot, slack, ANN).click(request, "Approve")
    await bot.settled()
    assert credential.nylas_credential_id in nylas.credentials  # one approval of two
    assert not nylas.calls("DELETE", r"/v3/connectors/.*")
    await Person(bot, slack, BOB).click(request, "Approve")
    await slack.wait_for("chat.postMessage", lambda c: "was deleted at Nylas" in c.text_blob())
    assert credential.nylas_credential_id not in nylas.credentials
    assert len(nylas.calls("DELETE", r"/v3/connectors/google/creds/.*")) == 1
    kept = await record(bot, "acme.com")
    assert kept.deleted_at is not None and kept.deleted_by == BOB  # marked, not removed
    [event] = await deletion_events(bot)
    details = json.loads(event.details)
    assert event.outcome == "ok" and details["requested_by"] == ADMIN
    assert details["reason"] == "Acme left" and "Ann" in details["approvers"]
    revoke = await Person(bot, slack, ADMIN).open_modal("revoke")
    assert "acme.com (Google)" not in revoke.text() and "other.com (Google)" in revoke.text()


async def test_nylas_refusing_to_delete_the_default_credential_is_shown_as_such(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    nylas.connectors["google"]["active_credential_id"] = credential.nylas_credential_id
    request = await request_deletion(bot, slack, "acme.com")
    await Person(bot, slack, ANN).click(request, "Approve")
    await Person(bot, slack, BOB).click(request, "Approve")
    [told] = await slack.wait_for(
        "chat.postMessage", lambda c: "Nylas refused to delete" in c.text_blob()
    )
    assert "default (active) credential" in told.text_blob()
    assert credential.nylas_credential_id in nylas.credentials
    assert (await record(bot, "acme.com")).deleted_at is None
    [event] = await deletion_events(bot)
    assert event.outcome == "refused"


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_the_requester_hears_of_a_deletion_its_request_thread_did_not_take(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """The approvers' DM refuses the bot after the first approval, or Slack never answers there
    (the connection drops, and the client's retries too): the credential is deleted and the
    requester told by DM. Unanswered, the notice in the thread ended it: the requester was not
    told."""
    credential = await seed_credential(bot, nylas)
    request = await request_deletion(bot, slack, "acme.com")
    await Person(bot, slack, ANN).click(request, "Approve")
    await bot.settled()
    out_of_reach = slack.left_channels if failure == "refused" else slack.dropped_channels
    out_of_reach.add(request.params["channel"])
    await Person(bot, slack, BOB).click(request, "Approve")
    [told] = await slack.wait_for(
        "chat.postMessage",
        lambda c: c.params["channel"] == ADMIN and "was deleted at Nylas" in c.text_blob(),
    )
    assert told.response is not None and told.response["ok"]
    assert credential.nylas_credential_id not in nylas.credentials


async def test_a_request_whose_approvers_dm_slack_did_not_open_is_told_to_try_again(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """Slack never answered when the bot opened the approvers' DM (the connection dropped, and
    the client's retries too): the requester is told so, and nothing waits for approval. It used
    to end in "something went wrong on our side"."""
    credential = await seed_credential(bot, nylas)
    form = await deletion_form(bot, slack, "acme.com")
    form.type("Type the credential's name to confirm", "acme.com")
    form.type("Reason", "Acme left")
    slack.drop_next("conversations.open", times=3)  # the call and the client's two retries
    await form.submit()
    await form.wait_for("Slack did not answer when the bot opened a DM with the other approvers")
    await bot.settled()
    async with bot.deps.sessions() as session:
        assert (await session.exec(select(BulkRun))).all() == []
    assert credential.nylas_credential_id in nylas.credentials


async def test_an_unknown_name_opens_nothing(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await seed_credential(bot, nylas)
    response = await Person(bot, slack, ADMIN).command("credential delete nope.com")
    assert response.status == 200
    await slack.wait_for("chat.postEphemeral", lambda c: "no credential named" in c.text_blob())
    assert not slack.calls_to("views.open")


async def test_an_approved_deletion_cut_short_by_a_crash_is_carried_out_once_by_the_sweep(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The last approval was committed, then the process stopped before the DELETE (as a
    crash leaves it): a scan carries it out once; the run engine never starts it as a run."""
    credential = await seed_credential(bot, nylas)
    await request_deletion(bot, slack, "acme.com")
    async with bot.deps.sessions() as session:
        await session.exec(
            update(BulkRun)
            .where(col(BulkRun.id) == 1)
            .values(
                status=RunStatus.APPROVED,
                approved_by=BOB,
                approved_by_name="Ann, Bob",
                decided_at=utcnow() - timedelta(minutes=2),
            )
        )
        await session.commit()
    await nylas.wait_for("DELETE", r"/v3/connectors/google/creds/.*")
    await slack.wait_for("chat.postMessage", lambda c: "was deleted at Nylas" in c.text_blob())
    await bot.deps.deletions.sweep()  # again: nothing more happens
    assert len(nylas.calls("DELETE", r"/v3/connectors/.*")) == 1
    assert credential.nylas_credential_id not in nylas.credentials
    assert (await record(bot, "acme.com")).deleted_by == BOB
    assert not [c for c in slack.calls_to("chat.postMessage") if "starting" in c.text_blob()]
