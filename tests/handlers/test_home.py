"""The App Home tab through the running bot: what allowed and other users see, its buttons,
and its refresh when a run ends."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.models import ConsentRequest, RunStatus, utcnow
from storage.runs import add_items
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import confirm, plan, seed_credential, wait_for_csv
from tests.records import run_record, worked_by_another_replica
from tests.slack_requests import app_home_opened
from tests.slack_ui import Person

ANN = "U0ANN"


async def open_home(bot: RunningBot, slack: FakeSlack, user_id: str = ADMIN) -> dict[str, Any]:
    """The user opens the Home tab; returns the view the bot published for them."""
    before = len([c for c in slack.calls_to("views.publish") if c.params["user_id"] == user_id])
    response = await bot.event(app_home_opened(user_id=user_id))
    assert response.status == 200
    await slack.wait_for(
        "views.publish", lambda c: c.params["user_id"] == user_id, count=before + 1
    )
    return slack.home_views[user_id]


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def actions(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        found += block.get("elements", []) if block["type"] == "actions" else []
        found += [block["accessory"]] if "accessory" in block else []
    return found


async def seed_dashboard(bot: RunningBot, nylas: FakeNylas) -> None:
    """acme.com (Google) with a finished run of 2 created grants; contoso.com (Microsoft)
    consented; a running run; 15 audit events."""
    acme = await seed_credential(bot, nylas)
    contoso = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    now = utcnow()
    async with bot.deps.sessions() as session:
        finished = run_record(acme.id, RunStatus.FINISHED, finished_at=now)
        running = run_record(acme.id, RunStatus.RUNNING, total=2)
        session.add_all([finished, running])
        await session.flush()
        await add_items(
            session=session,
            run_id=finished.id or 0,
            emails=["a@acme.com", "b@acme.com"],
            status="created",
        )
        await add_items(
            session=session, run_id=finished.id or 0, emails=["c@acme.com"], status="failed"
        )
        await add_items(
            session=session, run_id=running.id or 0, emails=["d@acme.com", "e@acme.com"]
        )
        await worked_by_another_replica(session, running.id or 0)
        session.add(
            ConsentRequest(
                credential_id=contoso.id or 0,
                status="consented",
                state_hash="h1",
                requested_by=ADMIN,
                requested_by_name="Ada",
                channel_id="C0OPS",
                expires_at=now + timedelta(days=7),
                consented_at=now - timedelta(hours=1),
                ready_at=now - timedelta(minutes=55),
            )
        )
        await record_events(
            session=session,
            specs=[
                EventSpec(
                    actor=Actor(ADMIN, "Ada"),
                    action=AuditAction.GRANT_CREATED,
                    subject=Subject(
                        email=f"user{index}@acme.com", credential_id=acme.nylas_credential_id
                    ),
                )
                for index in range(15)
            ],
        )
        await session.commit()


async def test_an_allowed_user_sees_credentials_runs_activity_and_next_steps(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await seed_dashboard(bot, nylas)
    view = await open_home(bot, slack)
    assert view["type"] == "home"
    blocks = texts(view)
    assert "Google credentials (1)" in blocks and "Microsoft credentials (1)" in blocks
    acme = next(b for b in view["blocks"] if "*acme.com*" in json.dumps(b))
    assert "2 grants from runs" in acme["text"]["text"]  # created ones, not the failed one
    assert acme["accessory"]["action_id"] == "open_grants_modal"
    contoso = next(b for b in view["blocks"] if "*contoso.com*" in json.dumps(b))
    assert "tenant `contoso.com`" in contoso["text"]["text"]
    assert "consented" in contoso["text"]["text"] and "0 grants" in contoso["text"]["text"]
    assert "Active runs (1)" in blocks and "0/2 (0%)" in blocks
    activity = next(b for b in view["blocks"] if "user14@acme.com" in json.dumps(b))
    lines = activity["text"]["text"].splitlines()
    assert len(lines) == 10 and "user14@acme.com" in lines[0] and "user5@acme.com" in lines[-1]
    assert "BST" in lines[0] or "GMT" in lines[0]  # the viewer's zone (Europe/London)
    ids = {element["action_id"] for element in actions(view)}
    assert {
        "open_google_credential_modal",
        "open_microsoft_credential_modal",
        "open_consent_modal",
        "open_grants_modal",
    } <= ids


async def test_others_see_a_short_explanation_and_nothing_else(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await seed_dashboard(bot, nylas)
    view = await open_home(bot, slack, OUTSIDER)
    blocks = texts(view)
    assert "not allowed to use bulkauth" in blocks and "BULKAUTH_ADMINS" in blocks
    assert "acme.com" not in blocks and "user14" not in blocks and actions(view) == []


async def test_the_messages_tab_is_left_alone(bot: RunningBot, slack: FakeSlack) -> None:
    response = await bot.event(app_home_opened(user_id=ADMIN, tab="messages"))
    assert response.status == 200
    await bot.settled()
    assert slack.calls_to("views.publish") == []


async def test_the_home_refreshes_when_a_run_ends(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    first = await open_home(bot, slack)
    assert "0 grants from runs" in texts(first)
    await open_home(bot, slack, OUTSIDER)  # not a viewer of the dashboard
    await confirm(bot, await plan(bot, slack, credential, "ann@acme.com\nbob@acme.com"))
    await wait_for_csv(slack)
    published = await slack.wait_for(
        "views.publish", lambda c: "2 grants from runs" in c.text_blob()
    )
    assert published[-1].params["user_id"] == ADMIN
    assert "Active runs (0)" in texts(slack.home_views[ADMIN])
    await bot.settled()
    outsider = [c for c in slack.calls_to("views.publish") if c.params["user_id"] == OUTSIDER]
    assert len(outsider) == 1  # only when they opened it


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_home_slack_did_not_take_leaves_the_others_refreshed(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """Slack refused the first viewer's refreshed Home, or never answered (the connection
    dropped, and the client's retries too): the next viewer's Home is refreshed all the same.
    Unanswered, the refresh stopped at the first: the others kept showing the run as active."""
    slack.add_user(ANN, "Ann")
    async with run_bot(make_settings(bulkauth_admins=[ADMIN, ANN])) as bot:
        credential = await seed_credential(bot, nylas)
        for viewer in (ADMIN, ANN):  # refreshed in this order
            assert "0 grants from runs" in texts(await open_home(bot, slack, viewer))
        if failure == "refused":
            slack.fail_next("views.publish", status=200, error="internal_error", retry_after=None)
        else:
            slack.drop_next("views.publish", times=3)  # the call and the client's two retries
        await confirm(bot, await plan(bot, slack, credential, "ann@acme.com\nbob@acme.com"))
        await wait_for_csv(slack)
        await slack.wait_for(
            "views.publish",
            lambda c: c.params["user_id"] == ANN and "2 grants from runs" in c.text_blob(),
        )
    assert "Active runs (0)" in texts(slack.home_views[ANN])


async def test_home_buttons_open_the_right_modals(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await open_home(bot, slack)  # no credentials yet
    home = Person(bot, slack, ADMIN).home()
    await home.click("Create grants")
    [told] = await slack.wait_for("chat.postMessage")
    assert told.params["channel"] == ADMIN  # a Home has no channel: a DM
    assert "no credential to create grants with yet" in told.text_blob()
    assert slack.calls_to("views.open") == []

    await home.click("Register Microsoft credential")
    [opened] = await slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "credential_microsoft"

    await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    view = await open_home(bot, slack)
    contoso = next(b for b in view["blocks"] if "*contoso.com*" in json.dumps(b))
    assert contoso["accessory"]["action_id"] == "open_consent_modal"  # no consent yet
    await home.click("Get admin consent", near="*contoso.com*")
    consent = await home.person.next_modal(lambda c: "consent_link" in c.text_blob())
    assert "contoso.com" in json.dumps(consent.blocks[1]["element"]["initial_option"])
    assert (await consent.submit()).ack == {}
    [link] = await slack.wait_for("chat.postMessage", lambda c: "consent link" in c.text_blob())
    assert link.params["channel"] == ADMIN  # opened from the Home: the link comes as a DM


async def test_outsiders_cannot_use_home_buttons(bot: RunningBot, slack: FakeSlack) -> None:
    await open_home(bot, slack)
    await Person(bot, slack, OUTSIDER).home(of=ADMIN).click("Register Google credential")
    [refusal] = await slack.wait_for("chat.postMessage")
    assert refusal.params["channel"] == OUTSIDER and "not allowed" in refusal.text_blob()
    assert slack.calls_to("views.open") == []


async def test_a_large_workspace_still_fits_slack_limits(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    for index in range(40):
        await seed_credential(bot, nylas, name=f"customer-{index:02d}-" + "x" * 100)
        await seed_credential(bot, nylas, provider="microsoft", name=f"tenant-{index:02d}.example")
    async with bot.deps.sessions() as session:
        session.add_all(run_record(1, RunStatus.AWAITING_APPROVAL) for _ in range(50))
        await session.commit()
    view = await open_home(bot, slack)  # the fake Slack refuses more than 100 blocks
    assert len(view["blocks"]) <= 100
    blocks = texts(view)
    assert "Google credentials (40)" in blocks and "…and 25 more" in blocks
    assert "`/bulkauth credentials google` lists them all" in blocks
    assert "Active runs (50)" in blocks and "more: `/bulkauth status`" in blocks
