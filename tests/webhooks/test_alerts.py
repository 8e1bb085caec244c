"""Grant alerts in the alert channel: grouped per credential into one message edited in
place, within Slack's limits, with Show list, Mute for a day and Re-authenticate these."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date

from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.slack_ui import Person
from tests.webhooks.conftest import (
    ALERT_CHANNEL,
    WEBHOOK_SECRET,
    WEBHOOK_SETTINGS,
    Granted,
    audit_events,
    granted_by_run,
    inbox_settled,
)


def alert_posts(slack: FakeSlack) -> list:  # type: ignore[type-arg]
    return [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ALERT_CHANNEL]


async def expired_alert(
    bot: RunningBot, nylas: FakeNylas, slack: FakeSlack, *, count: int
) -> tuple[Granted, SlackCall]:
    """`count` grants of acme.com expire; the one alert the bot posts about them."""
    acme = await granted_by_run(bot.deps.sessions, nylas, name="acme.com", count=count)
    await nylas.notify_many("grant.expired", acme.grants)
    await inbox_settled(bot)
    [post] = alert_posts(slack)
    return acme, post


def shown_text(slack: FakeSlack, call) -> str:  # type: ignore[no-untyped-def]
    ts = call.response["ts"]
    return json.dumps(slack.messages[(ALERT_CHANNEL, ts)]["blocks"])


async def test_5000_expiries_of_two_credentials_make_a_handful_of_messages_and_lose_none(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=2500)
    globex = await granted_by_run(
        hooked.deps.sessions,
        nylas,
        name="globex.com",
        count=2500,
        provider="microsoft",
        secret_expires_on=date(2026, 11, 20),
    )
    deliveries = await nylas.notify_many("grant.expired", acme.grants + globex.grants)
    assert all(d.accepted for d in deliveries)
    await inbox_settled(hooked)

    events = await audit_events(hooked, "nylas.grant.expired")
    assert len(events) == 5000
    ids = {json.loads(e.details)["notification"] for e in events}
    assert ids == {d.notification_id for d in deliveries}
    posts = alert_posts(slack)
    assert 2 <= len(posts) <= 5
    assert len({p.response["ts"] for p in posts}) == len(posts)
    texts = [shown_text(slack, p) for p in posts]
    acme_texts = [t for t in texts if "acme.com" in t]
    assert any("2,500 grants of acme.com expired" in t for t in acme_texts) or len(acme_texts) > 1
    globex_text = " ".join(t for t in texts if "globex.com" in t)
    assert "client secret expired on 2026-11-20" in globex_text
    # Each message is edited at most about once a second (Slack's chat.update limit).
    edits = defaultdict(list)
    for call in slack.calls_to("chat.update"):
        edits[call.params["ts"]].append(call.at)
    for times in edits.values():
        assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False))


async def test_show_list_posts_the_affected_grants_as_csv_in_the_thread(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    acme, post = await expired_alert(hooked, nylas, slack, count=30)
    assert "30 grants of acme.com expired" in shown_text(slack, post)
    ada = Person(hooked, slack, ADMIN, channel_id=ALERT_CHANNEL)
    assert (await ada.click(post, "Show list")).status == 200
    [shared] = await slack.wait_for("files.completeUploadExternal")
    assert shared.params["thread_ts"] == post.response["ts"]
    [uploaded] = slack.uploads.values()
    assert uploaded.thread_ts == post.response["ts"]
    content = uploaded.content.decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert sorted(r["email"] for r in rows) == sorted(g["email"] for g in acme.grants)
    assert {r["event"] for r in rows} == {"grant.expired"}
    await hooked.settled()  # the audit follows the upload
    assert len(await audit_events(hooked, "alert.list_sent")) == 1


async def test_mute_for_a_day_is_shown_stored_and_still_audited(
    make_settings: SettingsFactory, nylas: FakeNylas, slack: FakeSlack
) -> None:
    settings = make_settings(**{**WEBHOOK_SETTINGS, "bulkauth_alert_window_seconds": 0.5})
    async with run_bot(settings) as bot:
        nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        acme = await granted_by_run(bot.deps.sessions, nylas, name="acme.com", count=20)
        await nylas.notify_many("grant.expired", acme.grants[:10])
        await inbox_settled(bot)
        [post] = alert_posts(slack)
        ada = Person(bot, slack, ADMIN, channel_id=ALERT_CHANNEL)
        assert (await ada.click(post, "Mute for a day")).status == 200
        await slack.wait_for("chat.update", lambda c: "muted until" in c.text_blob())
        assert f"by <@{ADMIN}>" in shown_text(slack, post)
        [muted] = await audit_events(bot, "alert.muted")
        assert muted.actor_id == ADMIN
    # A restart keeps the mute: later expiries (a new window) are audited, never posted.
    async with run_bot(settings) as bot:
        nylas.webhooks.clear()
        nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        await nylas.notify_many("grant.expired", acme.grants[10:])
        await inbox_settled(bot)
        assert len(await audit_events(bot, "nylas.grant.expired")) == 20
        assert len(alert_posts(slack)) == 1


async def test_a_bot_stopped_while_it_posts_an_alert_records_the_post_and_posts_it_once(
    make_settings: SettingsFactory, nylas: FakeNylas, slack: FakeSlack
) -> None:
    """A stop (a deploy, SIGTERM) that comes while an alert's message is on its way to Slack
    waits for it and records it. It used to cut the publisher off there: the next bot saw no
    message, and once the cut-off claim ran out (30 s) it posted a second one."""
    settings = make_settings(**WEBHOOK_SETTINGS)
    slack.latency["chat.postMessage"] = 2.0  # a slow Slack: the stop comes meanwhile
    async with run_bot(settings) as bot:
        nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        acme = await granted_by_run(bot.deps.sessions, nylas, name="acme.com", count=4)
        await nylas.notify_many("grant.expired", acme.grants[:2])
        await slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == ALERT_CHANNEL)
    slack.latency.clear()
    async with run_bot(settings) as bot:  # the same window: the same message, edited
        nylas.webhooks.clear()
        nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        await nylas.notify_many("grant.expired", acme.grants[2:])
        await inbox_settled(bot, timeout=10.0)  # not the cut-off claim's 30 s
    [post] = alert_posts(slack)
    assert "4 grants of acme.com expired" in shown_text(slack, post)


async def test_an_alert_slack_could_not_be_reached_for_is_posted_at_a_later_turn_once(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    """Slack unreachable when an alert is due (the connection drops, and the client's own
    retries too): the alert is posted at a later turn, once. Its claim used to stay for 30 s."""
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=2)
    slack.drop_next("chat.postMessage", times=3)  # the call and the client's two retries
    await nylas.notify_many("grant.expired", acme.grants)
    await inbox_settled(hooked, timeout=10.0)  # not the claim's 30 s
    [post] = [call for call in alert_posts(slack) if call.response is not None]
    assert len(alert_posts(slack)) == 4  # three dropped
    assert "2 grants of acme.com expired" in shown_text(slack, post)


async def test_mute_asks_to_confirm_first(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    _acme, post = await expired_alert(hooked, nylas, slack, count=2)
    blocks = slack.messages[(ALERT_CHANNEL, post.response["ts"])]["blocks"]
    buttons = {
        e["text"]["text"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]
    }
    assert set(buttons) == {"Re-authenticate these", "Show list", "Mute for a day"}
    assert buttons["Mute for a day"]["confirm"]["confirm"]["text"] == "Mute"


async def test_without_an_alert_channel_events_are_audited_and_nothing_is_posted(
    make_settings: SettingsFactory, nylas: FakeNylas, slack: FakeSlack
) -> None:
    settings = make_settings(**{**WEBHOOK_SETTINGS, "bulkauth_alert_channel": None})
    async with run_bot(settings) as bot:
        nylas.add_webhook(f"{bot.url}/nylas/webhook", secret=WEBHOOK_SECRET)
        acme = await granted_by_run(bot.deps.sessions, nylas, name="acme.com", count=5)
        await nylas.notify_many("grant.expired", acme.grants)
        await inbox_settled(bot)
        assert len(await audit_events(bot, "nylas.grant.expired")) == 5
    assert slack.calls_to("chat.postMessage") == []


async def test_an_outsider_cannot_use_the_alert_buttons(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    _acme, post = await expired_alert(hooked, nylas, slack, count=2)
    oscar = Person(hooked, slack, "U0OUTSIDER", channel_id=ALERT_CHANNEL)
    await oscar.click(post, "Mute for a day")
    await hooked.settled()
    assert await audit_events(hooked, "alert.muted") == []


async def test_an_alert_channel_the_bot_cannot_post_in_is_not_retried_until_more_arrive(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=200, error="not_in_channel")
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=3)
    await nylas.notify_many("grant.expired", acme.grants[:2])
    await inbox_settled(hooked)  # settles: the refusal is recorded, not retried in a loop
    assert len(await audit_events(hooked, "nylas.grant.expired")) == 2
    assert len(alert_posts(slack)) == 1
    await nylas.notify("grant.expired", acme.grants[2])
    await inbox_settled(hooked)
    [_refused, posted] = alert_posts(slack)
    assert "3 grants of acme.com expired" in shown_text(slack, posted)


async def test_re_authenticate_these_plans_exactly_the_alerts_grants(
    hooked: RunningBot, nylas: FakeNylas, slack: FakeSlack
) -> None:
    acme = await granted_by_run(hooked.deps.sessions, nylas, name="acme.com", count=31)
    for grant in acme.grants:  # invalid at Nylas, with the scopes they were granted
        grant.update(
            grant_status="invalid", scope=["https://www.googleapis.com/auth/gmail.readonly"]
        )
    await nylas.notify_many("grant.expired", acme.grants[:30])  # one stays out of the alert
    await inbox_settled(hooked)
    [post] = alert_posts(slack)
    ada = Person(hooked, slack, ADMIN, channel_id=ALERT_CHANNEL)
    assert (await ada.click(post, "Re-authenticate these")).status == 200
    plan = await (await ada.next_modal()).wait_for("Dry run", timeout=20)
    assert "30 invalid grants: re-authenticated" in plan.text()
