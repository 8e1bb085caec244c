"""The health sweep through running bots: exactly one replica sweeps each period (two bots on
one PostgreSQL), it pages List Grants to the end, records what changed since the last sweep,
alerts once per credential, and a restart within the period does not sweep again."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from bot.health.sweep import KEY_PREFIX, period_start
from storage.audit import AuditFilter, count_events, latest_events
from storage.models import HealthSnapshot, OnceClaim, utcnow
from storage.once import claim_once
from tests.block_kit import texts
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import seed_credential
from tests.health.test_reauthentication import invalid_grants
from tests.slack_ui import Person

ALERTS = "C0ALERTS"
PAGES = 3  # 450 or 420 invalid grants, 200 a page


def invalid_pages(nylas: FakeNylas) -> int:
    return len(
        [r for r in nylas.calls("GET", "/v3/grants") if r.query.get("grant_status") == "invalid"]
    )


def is_alert(call: SlackCall) -> bool:
    return call.params.get("channel") == ALERTS


async def audited(bot: RunningBot, action: str) -> int:
    async with bot.deps.sessions() as session:
        return await count_events(session=session, filters=AuditFilter(action_prefix=action))


async def test_two_replicas_sweep_each_period_once_and_record_the_changes(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, postgres_server
) -> None:
    database = await postgres_server.new_database()
    async with run_bot(make_settings(database_url=database)) as setup:
        credential = await seed_credential(setup, nylas)
    ids = invalid_grants(nylas, credential, 450)  # three pages
    settings = make_settings(
        database_url=database,
        bulkauth_health_sweep_hours=0.001,  # 3.6 s periods
        bulkauth_alert_channel=ALERTS,
        bulkauth_alert_window_seconds=1,  # each sweep's findings in an alert of their own
    )
    async with run_bot(settings) as first, run_bot(settings) as second:
        [alert] = await slack.wait_for("chat.postMessage", is_alert, timeout=15)
        assert "450 grants of acme.com expired" in texts(alert.params["blocks"])
        # Between two sweeps: 50 recover (re-authenticated elsewhere), 20 more go invalid.
        for email in list(ids)[:50]:
            nylas.grants[email]["grant_status"] = "valid"
        invalid_grants(nylas, credential, 20, domain="later.acme.com")
        alerts = await slack.wait_for("chat.postMessage", is_alert, count=2, timeout=15)
        assert "20 grants of acme.com expired" in texts(alerts[1].params["blocks"])
        assert "Re-authenticate these" in json.dumps(alerts[1].params["blocks"])
    first_id, second_id = first.deps.run_engine.worker_id, second.deps.run_engine.worker_id
    async with run_bot(make_settings(database_url=database)) as reader:
        async with reader.deps.sessions() as session:
            claims = (await session.exec(select(OnceClaim))).all()
            [snapshot] = (await session.exec(select(HealthSnapshot))).all()
            [recovered] = await latest_events(
                session=session, filters=AuditFilter(action_prefix="grant.recovered"), limit=1
            )
        swept = await audited(reader, "health.swept")
        assert await audited(reader, "grant.found_invalid") == 470
        assert await audited(reader, "grant.recovered") == 50
    assert len(claims) >= 2 and len({c.key for c in claims}) == len(claims)
    assert {c.claimed_by for c in claims} <= {first_id, second_id}
    assert swept == len(claims)  # one sweep per claimed period, by one replica
    assert invalid_pages(nylas) == PAGES * len(claims)  # every page, once a period
    assert snapshot.invalid == 420
    assert recovered.actor_id == "sweep"
    assert recovered.credential_id == credential.nylas_credential_id


async def test_a_restart_within_the_period_does_not_sweep_again_and_home_shows_the_snapshot(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    settings = make_settings(bulkauth_health_sweep_hours=24, bulkauth_alert_channel=ALERTS)
    async with run_bot(settings) as bot:
        credential = await seed_credential(bot, nylas)
        invalid_grants(nylas, credential, 450)
        await bot.deps.home.show(ADMIN)  # Ada looks at her App Home
        assert "invalid at the last sweep" not in texts(slack.home_views[ADMIN]["blocks"])
        assert await bot.deps.sweep.sweep_if_due()  # what the period's job runs
        # her Home is redrawn with the sweep's figures
        assert "450 invalid at the last sweep" in texts(slack.home_views[ADMIN]["blocks"])
        assert not await bot.deps.sweep.sweep_if_due()  # the same period: claimed already
        assert invalid_pages(nylas) == PAGES
        await slack.wait_for("chat.postMessage", is_alert, timeout=15)  # the grouped alert
    async with run_bot(settings) as bot:
        assert bot.deps.sweep._scheduler.aps.get_job("health-catch-up") is None
        assert not await bot.deps.sweep.sweep_if_due()
        assert invalid_pages(nylas) == PAGES
        assert len([c for c in slack.calls_to("chat.postMessage") if is_alert(c)]) == 1
        # The App Home shows the last sweep's count and the button, without asking Nylas.
        before = len(nylas.requests)
        await bot.deps.home.show(ADMIN)
        assert len(nylas.requests) == before
        admin = Person(bot, slack, ADMIN)
        home = admin.home()
        assert "450 invalid at the last sweep" in texts(home.view["blocks"])
        assert (await home.click("Re-authenticate 450 invalid grants")).status == 200
        plan = await admin.next_modal()
        assert "450 invalid grants: re-authenticated" in (await plan.wait_for("Dry run")).text()


async def test_a_period_missed_while_every_replica_was_down_is_swept_at_start(
    make_settings: SettingsFactory, nylas: FakeNylas
) -> None:
    settings = make_settings(bulkauth_health_sweep_hours=24)
    async with run_bot(settings) as bot:
        credential = await seed_credential(bot, nylas)
        invalid_grants(nylas, credential, 5)
        yesterday = period_start(utcnow(), 24) - timedelta(hours=24)
        async with bot.deps.sessions() as session:
            assert await claim_once(
                session=session,
                key=f"{KEY_PREFIX}{yesterday.isoformat()}",
                claimed_by="old",
                now=yesterday,
            )
    async with run_bot(settings):
        await nylas.wait_for("GET", "/v3/grants")
    async with run_bot(settings) as bot, bot.deps.sessions() as session:  # the sweep has ended
        [snapshot] = (await session.exec(select(HealthSnapshot))).all()
        assert bot.deps.sweep._scheduler.aps.get_job("health-catch-up") is None
    assert snapshot.invalid == 5
