"""Microsoft admin consent through the running bot: links, callback, manual button, reminder."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import update
from sqlmodel import select

from bot.consent.links import Readiness, grant_gate, hash_state
from storage.audit import latest_events
from storage.models import ConsentRequest, CredentialRecord, utcnow
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.credential_flow import registration_outcome, submit_microsoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import fill_request
from tests.slack_requests import slash_command
from tests.slack_ui import Person

PUBLIC_URL = "https://bulkauth.example.com"


async def seed_credential(
    bot: RunningBot, *, name: str = "contoso.com", tenant: str = "contoso.com"
) -> CredentialRecord:
    async with bot.deps.sessions() as session:
        record = CredentialRecord(
            nylas_credential_id=f"cred-{name}",
            provider="microsoft",
            credential_type="adminconsent",
            name=name,
            tenant=tenant,
            registered_by=ADMIN,
            registered_by_name="Ada Admin",
        )
        session.add(record)
        await session.commit()
        await session.refresh(record)
        return record


@pytest.fixture
async def consent_bot(make_settings: SettingsFactory):  # type: ignore[no-untyped-def]
    settings = make_settings(public_base_url=PUBLIC_URL, bulkauth_consent_wait_seconds=300)
    async with run_bot(settings) as running:
        yield running


def link_of(call: SlackCall) -> str:
    return next(
        element["url"]
        for block in call.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("url")
    )


def manual_button(call: SlackCall) -> dict[str, Any]:
    return next(
        element
        for block in call.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "consent_granted_manually"
    )


SCOPES = "Scope override (optional)"


async def request_link(
    bot: RunningBot,
    slack: FakeSlack,
    name: str,
    scopes: str | None = None,
    *,
    choose: str | None = None,
) -> SlackCall:
    """`/bulkauth consent <name>` (the credential preselected), or `/bulkauth consent` with the
    credential labelled `choose` chosen in the select; then Get link. Returns the link message."""
    before = len(slack.calls_to("chat.postMessage"))
    person = Person(bot, slack, ADMIN)
    modal = await person.open_modal("consent" if choose else f"consent {name}")
    if choose:
        await modal.choose("Credential", choose)
    if scopes is not None:
        modal.type(SCOPES, scopes)
    submitted = await modal.submit()
    assert submitted.status == 200 and submitted.ack == {}, submitted.ack
    posted = await slack.wait_for("chat.postMessage", count=before + 1)
    await bot.settled()
    return posted[-1]


async def callback(bot: RunningBot, **query: str) -> tuple[int, str]:
    response = await bot.http.get(f"{bot.url}/nylas/callback", params=query)
    return response.status, await response.text()


def is_granted_reply(call: SlackCall) -> bool:
    return "grants can be created from" in call.text_blob()


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def test_no_microsoft_credential_says_how_to_add_one(consent_bot: RunningBot) -> None:
    response = await consent_bot.command(slash_command("consent", user_id=ADMIN))
    assert "credential microsoft" in json.loads(await response.text())["text"]


async def test_modal_offers_scopes_only_for_a_specific_tenant(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    specific = await seed_credential(consent_bot)
    common = await seed_credential(consent_bot, name="any-org", tenant="common")
    modal = await Person(consent_bot, slack, ADMIN).open_modal("consent")
    assert not modal.has_input(SCOPES)
    for chosen, expect_scopes in ((specific, True), (common, False)):
        await modal.choose("Credential", f"{chosen.name} ({chosen.tenant})")
        assert modal.has_input(SCOPES) is expect_scopes
        assert ("Azure app's API permissions" in modal.text()) is not expect_scopes


async def test_link_for_a_specific_tenant_carries_the_scope_override(
    consent_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(consent_bot)
    posted = await request_link(
        consent_bot,
        slack,
        "contoso.com",
        scopes="https://graph.microsoft.com/Mail.Read\nCalendars.Read",
    )
    url = link_of(posted)
    query = query_of(url)
    assert url.startswith(f"{nylas.url}/v3/connect/auth?")
    assert query["response_type"] == ["adminconsent"] and query["provider"] == ["microsoft"]
    assert query["credential_id"] == [credential.nylas_credential_id]
    assert query["client_id"] == ["nylas-client-id"]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/nylas/callback"]
    assert query["scope"] == ["https://graph.microsoft.com/Mail.Read Calendars.Read"]
    assert posted.params["channel"] == "C0OPS" and f"<@{ADMIN}>" in posted.text_blob()
    state = query["state"][0]
    async with consent_bot.deps.sessions() as session:
        [stored] = (await session.exec(select(ConsentRequest))).all()
        [event] = await latest_events(session=session, limit=1)
    assert stored.state_hash == hash_state(state) and state not in stored.model_dump_json()
    assert event.action == "consent.link_issued"


async def test_a_credential_chosen_in_the_select_gets_its_link(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    """`/bulkauth consent` without a name: the person picks the credential in the select (the
    modal is redrawn for it) and gets that credential's link."""
    await seed_credential(consent_bot, name="fabrikam.com", tenant="fabrikam.com")
    contoso = await seed_credential(consent_bot)
    posted = await request_link(
        consent_bot, slack, "contoso.com", "Mail.Read", choose="contoso.com (contoso.com)"
    )
    query = query_of(link_of(posted))
    assert query["credential_id"] == [contoso.nylas_credential_id]
    assert query["scope"] == ["Mail.Read"]
    assert "Admin consent link for contoso.com" in posted.text_blob()


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_link_slack_did_not_take_in_the_channel_comes_as_a_dm(
    consent_bot: RunningBot, slack: FakeSlack, failure: str
) -> None:
    """Slack refused the link in the channel the command was typed in, or never answered there
    (the connection dropped, and the client's retries too): the link comes as a DM. Unanswered,
    no link was posted at all; the person was told only that something went wrong."""
    await seed_credential(consent_bot)
    out_of_reach = slack.left_channels if failure == "refused" else slack.dropped_channels
    out_of_reach.add("C0OPS")
    modal = await Person(consent_bot, slack, ADMIN).open_modal("consent contoso.com")
    submitted = await modal.submit()
    assert submitted.status == 200 and submitted.ack == {}, submitted.ack
    [posted] = await slack.wait_for(
        "chat.postMessage",
        lambda c: c.params["channel"] == ADMIN and "Admin consent link" in c.text_blob(),
    )
    answer = await slack.answer_of(posted)
    await consent_bot.settled()
    async with consent_bot.deps.sessions() as session:
        [stored] = (await session.exec(select(ConsentRequest))).all()
    # its thread gets the consent's news (the callback, the reminder)
    assert (stored.channel_id, stored.thread_ts) == (answer["channel"], answer["ts"])


async def test_bad_scope_is_refused_in_the_modal(consent_bot: RunningBot, slack: FakeSlack) -> None:
    await seed_credential(consent_bot)
    modal = await Person(consent_bot, slack, ADMIN).open_modal("consent contoso.com")
    modal.type(SCOPES, "Mail.Read <script>")
    ack = (await modal.submit()).ack
    assert "Not a Microsoft Graph scope" in ack["errors"]["consent_scopes"]


async def test_unknown_credential_name_is_explained(consent_bot: RunningBot) -> None:
    await seed_credential(consent_bot)
    response = await consent_bot.command(slash_command("consent nope.com", user_id=ADMIN))
    assert (
        "No Microsoft credential is named `nope.com`" in json.loads(await response.text())["text"]
    )


async def test_without_public_url_the_manual_button_is_the_way(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    async with run_bot(make_settings()) as bot:
        await seed_credential(bot, tenant="common")
        posted = await request_link(bot, slack, "contoso.com")
    assert "PUBLIC_BASE_URL is not set" in posted.text_blob()
    assert query_of(link_of(posted))["redirect_uri"][0].startswith("http://localhost:")
    assert "scope" not in query_of(link_of(posted))


async def test_callback_records_consent_and_tells_the_thread(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    credential = await seed_credential(consent_bot)
    posted = await request_link(consent_bot, slack, "contoso.com")
    state = query_of(link_of(posted))["state"][0]
    status, page = await callback(consent_bot, admin_consent="True", state=state)
    assert status == 200 and "Consent recorded" in page
    async with consent_bot.deps.sessions() as session:
        assert (stored := (await session.exec(select(ConsentRequest))).one()).thread_ts
    assert (stored.channel_id, stored.thread_ts) in slack.messages  # threaded on the link
    [reply] = await slack.wait_for(
        "chat.postMessage", lambda c: "can be created from" in c.text_blob()
    )
    assert reply.params["thread_ts"] and "grants can be created from" in reply.text_blob()
    updated = await slack.wait_for("chat.update")
    assert "Consent recorded" in updated[-1].text_blob()
    assert "consent_granted_manually" not in updated[-1].text_blob()
    async with consent_bot.deps.sessions() as session:
        stored = (await session.exec(select(ConsentRequest))).one()
        gate = await grant_gate(session=session, credential=credential, now=utcnow())
        [event] = await latest_events(session=session, limit=1)
    assert stored.status == "consented" and stored.ready_at is not None
    assert (stored.ready_at - stored.consented_at).total_seconds() == 300  # type: ignore[operator]
    assert gate.readiness == Readiness.WAITING
    assert event.action == "consent.granted"


async def test_callback_error_is_recorded_escaped_and_posted(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    await seed_credential(consent_bot)
    posted = await request_link(consent_bot, slack, "contoso.com")
    state = query_of(link_of(posted))["state"][0]
    status, page = await callback(
        consent_bot,
        state=state,
        error="access_denied",
        error_subcode="cancel",
        error_description="<script>alert(1)</script>",
    )
    assert status == 200 and "<script>" not in page and "&lt;script&gt;" in page
    [reply] = await slack.wait_for(
        "chat.postMessage", lambda c: "consent for" in c.text_blob() and "failed" in c.text_blob()
    )
    assert "access_denied" in reply.text_blob() and "<script>" not in reply.text_blob()
    async with consent_bot.deps.sessions() as session:
        stored = (await session.exec(select(ConsentRequest))).one()
    assert stored.status == "failed" and "error_subcode: cancel" in (stored.error or "")


async def test_forged_reused_expired_and_malformed_callbacks_change_nothing(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    await seed_credential(consent_bot)
    posted = await request_link(consent_bot, slack, "contoso.com")
    state = query_of(link_of(posted))["state"][0]
    posts_before = len(slack.calls_to("chat.postMessage"))
    assert (await callback(consent_bot, admin_consent="true"))[0] == 400
    assert (await callback(consent_bot, admin_consent="true", state="forged"))[0] == 400
    assert (await callback(consent_bot, admin_consent="true", state="x" * 300))[0] == 400
    assert (await callback(consent_bot, state=state))[0] == 400  # neither consent nor error
    async with consent_bot.deps.sessions() as session:
        assert (await session.exec(select(ConsentRequest))).one().status == "pending"
        await session.exec(update(ConsentRequest).values(expires_at=utcnow() - timedelta(1)))
        await session.commit()
    status, page = await callback(consent_bot, admin_consent="true", state=state)
    assert status == 400 and "expired" in page
    assert len(slack.calls_to("chat.postMessage")) == posts_before
    async with consent_bot.deps.sessions() as session:
        assert (await session.exec(select(ConsentRequest))).one().status == "pending"
        events = await latest_events(session=session, limit=5)
    assert [e.action for e in events] == ["consent.callback_rejected"] * 5
    assert all(state not in e.details for e in events)


async def test_a_used_link_cannot_be_replayed(consent_bot: RunningBot, slack: FakeSlack) -> None:
    await seed_credential(consent_bot)
    posted = await request_link(consent_bot, slack, "contoso.com")
    state = query_of(link_of(posted))["state"][0]
    assert (await callback(consent_bot, admin_consent="true", state=state))[0] == 200
    status, page = await callback(consent_bot, admin_consent="true", state=state)
    assert status == 400 and "already used" in page


async def test_manual_button_records_consent_as_the_clicking_user(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    await seed_credential(consent_bot)
    posted = await request_link(consent_bot, slack, "contoso.com")
    refused = await Person(consent_bot, slack, OUTSIDER).click(posted, "Consent was granted")
    assert refused.status == 200
    [refusal] = await slack.wait_for("chat.postEphemeral", lambda c: "not allowed" in c.text_blob())
    assert refusal.params["user"] == OUTSIDER
    await Person(consent_bot, slack, ADMIN).click(posted, "Consent was granted")
    [reply] = await slack.wait_for(
        "chat.postMessage", lambda c: "can be created from" in c.text_blob()
    )
    assert "Ada Admin" in reply.text_blob()
    async with consent_bot.deps.sessions() as session:
        stored = (await session.exec(select(ConsentRequest))).one()
        actions = [(e.action, e.actor_id) for e in await latest_events(session=session)]
    assert stored.consented_by == "Ada Admin"
    assert ("consent.granted", ADMIN) in actions and ("access.denied", OUTSIDER) in actions


async def _consented(bot: RunningBot, slack: FakeSlack) -> int:
    await seed_credential(bot)
    posted = await request_link(bot, slack, "contoso.com")
    state = query_of(link_of(posted))["state"][0]
    assert (await callback(bot, admin_consent="true", state=state))[0] == 200
    async with bot.deps.sessions() as session:
        consent_id = (await session.exec(select(ConsentRequest))).one().id
    assert consent_id is not None
    return consent_id


def is_reminder(call: SlackCall) -> bool:
    return "propagation wait" in call.text_blob()


async def test_reminder_fires_when_the_wait_is_over(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    settings = make_settings(public_base_url=PUBLIC_URL, bulkauth_consent_wait_seconds=0.5)
    async with run_bot(settings) as bot:
        await _consented(bot, slack)
        [reminder] = await slack.wait_for("chat.postMessage", is_reminder)
    assert f"<@{ADMIN}>" in reminder.text_blob() and reminder.params["thread_ts"]
    assert "grants contoso.com" in reminder.text_blob()
    async with run_bot(settings) as bot:
        person = Person(bot, slack, ADMIN)
        await person.click(reminder, "Create grants")
        modal = await person.next_modal(lambda c: "grants_request" in c.text_blob())
        assert modal.blocks[0]["element"]["initial_option"]["text"]["text"] == (
            "contoso.com (Microsoft)"
        )
        fill_request(modal, users="ann@contoso.com")
        assert (await modal.submit()).ack["response_action"] == "update"
        assert "1 new users" in (await modal.wait_for("Dry run")).text()


async def test_reminder_survives_a_restart(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    settings = make_settings(public_base_url=PUBLIC_URL, bulkauth_consent_wait_seconds=1.5)
    async with run_bot(settings) as bot:
        await _consented(bot, slack)
    assert [c for c in slack.calls_to("chat.postMessage") if is_reminder(c)] == []
    async with run_bot(settings):
        await slack.wait_for("chat.postMessage", is_reminder)
    assert len([c for c in slack.calls_to("chat.postMessage") if is_reminder(c)]) == 1


async def test_a_reminder_missed_while_down_fires_once_at_start(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    settings = make_settings(public_base_url=PUBLIC_URL)
    async with run_bot(settings) as bot:
        await _consented(bot, slack)
        async with bot.deps.sessions() as session:  # the wait ended while the bot was down
            await session.exec(update(ConsentRequest).values(ready_at=utcnow() - timedelta(1)))
            await session.commit()
    async with run_bot(settings) as bot:
        await slack.wait_for("chat.postMessage", is_reminder)
        async with bot.deps.sessions() as session:
            assert (await session.exec(select(ConsentRequest))).one().reminded_at is not None
    async with run_bot(settings):
        pass
    assert len([c for c in slack.calls_to("chat.postMessage") if is_reminder(c)]) == 1


async def test_a_reminder_slack_could_not_be_reached_for_is_posted_later(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    """Slack unreachable when the reminder is due (the connection drops, and the client's own
    retries too): the reminder is owed still, here posted by the next bot at its start. It used
    to stay claimed, and was never posted."""
    settings = make_settings(public_base_url=PUBLIC_URL, bulkauth_consent_wait_seconds=2.0)
    async with run_bot(settings) as bot:
        await _consented(bot, slack)
        await slack.wait_for("chat.postMessage", lambda c: "can be created from" in c.text_blob())
        slack.drop_next("chat.postMessage", times=3)  # the call and the client's two retries
        await slack.wait_for("chat.postMessage", is_reminder, count=3)
    async with run_bot(settings):
        await slack.wait_for("chat.postMessage", is_reminder, count=4)
    answered = [c for c in slack.calls_to("chat.postMessage") if is_reminder(c) and c.response]
    assert len(answered) == 1


async def test_two_replicas_post_each_reminder_exactly_once(
    make_settings: SettingsFactory, slack: FakeSlack, postgres_server
) -> None:
    settings = make_settings(
        public_base_url=PUBLIC_URL,
        bulkauth_consent_wait_seconds=300,
        database_url=await postgres_server.new_database(),
    )
    async with run_bot(settings) as bot:
        consent_id = await _consented(bot, slack)
        async with bot.deps.sessions() as session:
            await session.exec(
                update(ConsentRequest).values(ready_at=utcnow() + timedelta(seconds=2))
            )
            await session.commit()
    executed: list[str] = []
    done = asyncio.Event()
    async with run_bot(settings) as first, run_bot(settings) as second:
        for replica in (first, second):

            def listener(event: Any, name: str = str(id(replica))) -> None:
                executed.append(name)
                if len(executed) == 2:
                    done.set()

            replica.deps.reminders.scheduler.aps.add_listener(listener, EVENT_JOB_EXECUTED)
        await asyncio.wait_for(done.wait(), timeout=15)
    reminders = [c for c in slack.calls_to("chat.postMessage") if is_reminder(c)]
    assert len(reminders) == 1 and consent_id


async def test_gate_reports_not_consented_waiting_and_ready(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    credential = await seed_credential(consent_bot)
    async with consent_bot.deps.sessions() as session:
        assert (
            await grant_gate(session=session, credential=credential, now=utcnow())
        ).readiness == Readiness.NOT_CONSENTED
    await request_link(consent_bot, slack, "contoso.com")
    async with consent_bot.deps.sessions() as session:
        assert (
            await grant_gate(session=session, credential=credential, now=utcnow())
        ).readiness == Readiness.NOT_CONSENTED
    posted = slack.calls_to("chat.postMessage")[-1]
    await callback(consent_bot, admin_consent="true", state=query_of(link_of(posted))["state"][0])
    async with consent_bot.deps.sessions() as session:
        waiting = await grant_gate(session=session, credential=credential, now=utcnow())
        later = await grant_gate(
            session=session, credential=credential, now=utcnow() + timedelta(seconds=301)
        )
    assert waiting.readiness == Readiness.WAITING and waiting.ready_at is not None
    assert later.readiness == Readiness.READY


async def test_get_admin_consent_button_opens_the_modal_for_that_credential(
    consent_bot: RunningBot, slack: FakeSlack
) -> None:
    person = Person(consent_bot, slack, ADMIN)
    view = await person.open_modal("credential microsoft")
    await submit_microsoft(view)
    await registration_outcome(view, "Registered")
    [told] = await slack.wait_for(
        "chat.postEphemeral", lambda c: "Get admin consent" in c.text_blob()
    )
    await person.click(told, "Get admin consent")
    modal = await person.next_modal(lambda c: "consent_link" in c.text_blob())
    assert modal.blocks[1]["element"]["initial_option"]["text"]["text"] == (
        "contoso.com (contoso.com)"
    )
    before = len(slack.calls_to("chat.postMessage"))
    assert (await modal.submit()).ack == {}
    posted = await slack.wait_for("chat.postMessage", count=before + 1)
    assert "Admin consent link for contoso.com" in posted[-1].text_blob()
