"""Expiry reminders through the running bot: a Microsoft client secret's expiry and a Google
key's age, each threshold posted once (DM and alert channel, with "Rotate now") across
restarts, downtime and replicas. Time is moved in the database, as the consent reminder's
tests do: never by sleeping through a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import update
from sqlmodel import col, select

from bot.lifecycle.reminders import expiry_job_id
from storage.audit import latest_events
from storage.models import CredentialRecord, CredentialReminder, utcnow
from tests.conftest import ADMIN, AZURE_APP, RunningBot, SettingsFactory, run_bot
from tests.credential_flow import registration_outcome, submit_google, submit_microsoft
from tests.fakes.identity import FakeGoogle, FakeMicrosoft
from tests.fakes.slack import FakeSlack, SlackCall
from tests.keys import key_json, rsa_pem
from tests.slack_ui import Person

ALERTS = "C0ALERTS"
SERVICE_ACCOUNT = "nylas-bulk@acme-bulk.iam.gserviceaccount.com"


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def is_reminder(call: SlackCall) -> bool:
    return "Rotate now" in call.text_blob() and ":warning:" in call.text_blob()


def reminders(slack: FakeSlack) -> list[SlackCall]:
    """The reminders Slack took (a refused post is not one anybody saw)."""
    return [
        call
        for call in slack.calls_to("chat.postMessage")
        if is_reminder(call) and (call.response or {}).get("ok")
    ]


async def register_microsoft(bot: RunningBot, slack: FakeSlack, *, expires_in: int) -> int:
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(modal, expires=in_days(expires_in))
    await registration_outcome(modal, "Registered")
    return await record_id(bot, "microsoft")


async def register_google(bot: RunningBot, slack: FakeSlack, google: FakeGoogle) -> int:
    pem = rsa_pem()
    google.add_service_account(SERVICE_ACCOUNT, pem)
    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(modal, pasted=key_json(pem))
    await registration_outcome(modal, "Registered")
    return await record_id(bot, "google")


async def record_id(bot: RunningBot, provider: str) -> int:
    async with bot.deps.sessions() as session:
        query = select(CredentialRecord).where(col(CredentialRecord.provider) == provider)
        found = (await session.exec(query)).one().id
    assert found is not None
    return found


async def set_facts(bot: RunningBot, credential_id: int, **values: Any) -> None:
    async with bot.deps.sessions() as session:
        await session.exec(
            update(CredentialRecord)
            .where(col(CredentialRecord.id) == credential_id)
            .values(**values)
        )
        await session.commit()


async def test_a_secret_expiring_soon_is_reminded_by_dm_and_in_the_alert_channel(
    make_settings: SettingsFactory, slack: FakeSlack, microsoft: FakeMicrosoft
) -> None:
    async with run_bot(make_settings(bulkauth_alert_channel=ALERTS)) as bot:
        credential = await register_microsoft(bot, slack, expires_in=5)  # 7 days: passed
        posted = await slack.wait_for("chat.postMessage", is_reminder, count=2)
        await jobs_settled(bot, expiry_job_id(credential))
        assert {call.params["channel"] for call in posted} == {ADMIN, ALERTS}
        assert all("expires in 5 days" in call.text_blob() for call in posted)
        assert f"<@{ADMIN}>" in posted[0].text_blob()
        async with bot.deps.sessions() as session:
            events = await latest_events(session=session, limit=5)
        assert "credential.reminder_sent" in [event.action for event in events]
        microsoft.apps[AZURE_APP].secrets.add("ms-rotated-secret")
        person = Person(bot, slack, ADMIN)
        await person.click(next(c for c in posted if c.params["channel"] == ALERTS), "Rotate now")
        modal = await person.next_modal(lambda c: "rotate_microsoft" in c.text_blob())
        modal.type("New client secret", "ms-rotated-secret")
        modal.pick_date("New secret expires on", in_days(400))
        assert (await modal.submit()).ack["response_action"] == "update"
        await modal.wait_for("Rotated")
        await bot.settled()
    assert len(reminders(slack)) == 2  # the new secret's first threshold is a year away


async def test_thresholds_missed_while_down_fire_once_at_start_only_the_latest(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    settings = make_settings()
    async with run_bot(settings) as bot:
        credential = await register_microsoft(bot, slack, expires_in=200)
        # Down through the 30- and 7-day thresholds: it expires in 3 days.
        await set_facts(bot, credential, secret_expires_on=datetime.now(UTC).date() + timedelta(3))
    assert reminders(slack) == []
    async with run_bot(settings) as bot:
        [posted] = await slack.wait_for("chat.postMessage", is_reminder)
        assert "expires in 3 days" in posted.text_blob() and posted.params["channel"] == ADMIN
        async with bot.deps.sessions() as session:
            claims = (await session.exec(select(CredentialReminder))).all()
        assert [claim.threshold.rsplit(":", 1)[1] for claim in claims] == ["7d"]
    async with run_bot(settings) as bot:
        await bot.deps.expiry_reminders.fire(credential)  # what its job does at start
    assert len(reminders(slack)) == 1


async def test_a_key_threshold_reached_after_a_restart_fires_once(
    make_settings: SettingsFactory, slack: FakeSlack, google: FakeGoogle
) -> None:
    settings = make_settings(bulkauth_google_key_max_age_days=90)
    async with run_bot(settings) as bot:
        credential = await register_google(bot, slack, google)
        # The key turns 60 days old (30 days before its 90-day age) in 1.5 s.
        await set_facts(
            bot, credential, secret_set_at=utcnow() - timedelta(days=60) + timedelta(seconds=1.5)
        )
    async with run_bot(settings) as bot:
        [posted] = await slack.wait_for("chat.postMessage", is_reminder)
        assert "90-day rotation age in 30 days" in posted.text_blob()
    async with run_bot(settings) as bot:
        await bot.deps.expiry_reminders.fire(credential)
    assert len(reminders(slack)) == 1


async def jobs_settled(replica: RunningBot, *job_ids: str) -> None:
    """Until the replica has run these jobs (each rescheduled to a threshold days away), woken
    by the scheduler's "job executed" events; already settled counts too."""
    aps = replica.deps.expiry_reminders.scheduler.aps
    executed = asyncio.Event()
    aps.add_listener(lambda _event: executed.set(), EVENT_JOB_EXECUTED)

    def settled() -> bool:
        later = datetime.now(UTC) + timedelta(minutes=1)
        jobs = [aps.get_job(job_id) for job_id in job_ids]
        return all(job is not None and job.next_run_time > later for job in jobs)

    async with asyncio.timeout(15):
        while not settled():
            await executed.wait()
            executed.clear()


async def test_two_replicas_post_each_threshold_exactly_once(
    make_settings: SettingsFactory, slack: FakeSlack, google: FakeGoogle, postgres_server: Any
) -> None:
    settings = make_settings(
        bulkauth_alert_channel=ALERTS, database_url=await postgres_server.new_database()
    )
    async with run_bot(settings) as bot:
        secret = await register_microsoft(bot, slack, expires_in=200)
        key = await register_google(bot, slack, google)
        await set_facts(bot, secret, secret_expires_on=datetime.now(UTC).date() + timedelta(2))
        await set_facts(
            bot, key, secret_set_at=utcnow() - timedelta(days=60) + timedelta(seconds=3)
        )
    async with run_bot(settings) as first, run_bot(settings) as second:
        # Both replicas fire the secret's missed threshold at start, then the key's in 3 s.
        for replica in (first, second):
            await jobs_settled(replica, expiry_job_id(secret), expiry_job_id(key))
        async with first.deps.sessions() as session:
            claims = (await session.exec(select(CredentialReminder))).all()
    posted = reminders(slack)
    by_place = sorted((call.params["channel"], "Microsoft" in call.text_blob()) for call in posted)
    assert by_place == [(ALERTS, False), (ALERTS, True), (ADMIN, False), (ADMIN, True)]
    assert len(claims) == 2


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_reminder_slack_refused_everywhere_is_not_lost(
    make_settings: SettingsFactory, slack: FakeSlack, failure: str
) -> None:
    """Neither the DM nor the alert channel took it (Slack refused, or could not be reached:
    the connection dropped, and the client's retries too): the claim is given back, the
    reminder is tried again (a minute later; here its job is run at once), and posted then,
    once. Unreached, it used to stay claimed and was never posted."""
    slack.left_channels.update({ADMIN, ALERTS})
    async with run_bot(make_settings(bulkauth_alert_channel=ALERTS)) as bot:
        credential = await register_microsoft(bot, slack, expires_in=5)
        if failure == "unreachable":  # the reminder's job runs once the credential is recorded
            slack.left_channels.clear()
            slack.drop_next("chat.postMessage", times=6)  # 2 places, 3 attempts each
        await jobs_settled_soon(bot, expiry_job_id(credential))
        async with bot.deps.sessions() as session:
            assert (await session.exec(select(CredentialReminder))).all() == []
        assert reminders(slack) == []
        slack.left_channels.clear()
        await bot.deps.expiry_reminders.fire(credential)  # the retry
        await bot.deps.expiry_reminders.fire(credential)  # a second replica's, say
    assert sorted(call.params["channel"] for call in reminders(slack)) == [ALERTS, ADMIN]


async def jobs_settled_soon(replica: RunningBot, job_id: str) -> None:
    """Until the job has run and been rescheduled for the retry, a minute away."""
    aps = replica.deps.expiry_reminders.scheduler.aps
    executed = asyncio.Event()
    aps.add_listener(lambda _event: executed.set(), EVENT_JOB_EXECUTED)

    def retrying() -> bool:
        job = aps.get_job(job_id)
        return job is not None and job.next_run_time > datetime.now(UTC) + timedelta(seconds=30)

    async with asyncio.timeout(15):
        while not retrying():
            await executed.wait()
            executed.clear()


async def test_rotate_now_on_a_credential_deleted_since_says_it_is_gone(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    async with run_bot(make_settings()) as bot:
        credential = await register_microsoft(bot, slack, expires_in=5)
        [posted] = await slack.wait_for("chat.postMessage", is_reminder)
        await jobs_settled(bot, expiry_job_id(credential))
        await set_facts(bot, credential, deleted_at=datetime.now(UTC), deleted_by=ADMIN)
        person = Person(bot, slack, ADMIN)
        await person.click(posted, "Rotate now")
        modal = await person.next_modal()
        assert "no longer known" in modal.text()
        assert modal.view.get("callback_id") != "rotate_microsoft"
