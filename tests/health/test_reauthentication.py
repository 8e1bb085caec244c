"""Re-authentication runs end to end: `/bulkauth health` shows the invalid grants and the
button, the button opens the plan, the plan goes through approval in the channel, and the run
re-authenticates every grant with the same Custom Authentication call, keeping every id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from storage.audit import AuditFilter, count_events
from storage.models import BulkRun, CredentialRecord
from tests.block_kit import texts
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import (
    GMAIL,
    is_approval_request,
    run_csv_preamble,
    run_csv_rows,
    seed_credential,
    wait_for_csv,
)
from tests.slack_ui import Modal, Person

ANN = "U0ANN"
APPROVALS = "C0APPROVALS"


@pytest.fixture
async def health_bot(
    make_settings: SettingsFactory, slack: FakeSlack, request: pytest.FixtureRequest
) -> Any:
    slack.add_user(ANN, "Ann")
    database: dict[str, Any] = {}
    if getattr(request, "param", "sqlite") == "postgresql":
        database["database_url"] = await request.getfixturevalue("postgres_server").new_database()
    settings = make_settings(
        bulkauth_run_scan_seconds=0.2,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[ANN],
        bulkauth_two_approvals_above_users=5_000,
        **database,
    )
    async with run_bot(settings) as running:
        yield running


def invalid_grants(
    nylas: FakeNylas, credential: CredentialRecord, count: int, *, domain: str = "acme.com"
) -> dict[str, str]:
    """`count` grants of `credential` Nylas marks invalid; email -> grant id."""
    made = {}
    for index in range(count):
        grant = nylas.add_grant(
            f"user{index}@{domain}",
            provider=credential.provider,
            status="invalid",
            credential_id=credential.nylas_credential_id,
        )
        grant["scope"] = [GMAIL] if credential.provider == "google" else ["Mail.Read"]
        made[grant["email"]] = grant["id"]
    return made


async def ask_health(bot: RunningBot, slack: FakeSlack, args: str = "") -> SlackCall:
    """`/bulkauth health`: "Checking…" in the ack, then the answer through the response URL."""
    before = len(slack.calls_to("response_url"))
    response = await Person(bot, slack, ADMIN).command(f"health {args}".strip())
    assert response.status == 200
    assert "Checking" in json.loads(await response.text())["text"]
    answers = await slack.wait_for("response_url", count=before + 1, timeout=20)
    return answers[-1]


async def open_plan(bot: RunningBot, slack: FakeSlack, answer: SlackCall, label: str) -> Modal:
    person = Person(bot, slack, ADMIN)
    assert (await person.click(answer, label)).status == 200
    return await (await person.next_modal()).wait_for("Dry run", timeout=20)


@pytest.mark.parametrize("health_bot", ["sqlite"], indirect=True)
async def test_a_thousand_invalid_grants_are_reauthenticated_keeping_every_id(
    health_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(health_bot, nylas)
    other = await seed_credential(health_bot, nylas, name="other.example")
    ids = invalid_grants(nylas, credential, 1_000)
    invalid_grants(nylas, other, 3, domain="other.example")
    for index in range(2):
        nylas.add_grant(f"fine{index}@acme.com", credential_id=credential.nylas_credential_id)

    answer = await ask_health(health_bot, slack)
    text = texts(answer.params["blocks"])
    assert "*acme.com* (Google): 2 valid · 1,000 invalid" in text
    assert "*other.example* (Google): 0 valid · 3 invalid" in text
    assert "domain-wide delegation" in text  # the likely cause, in plain words

    plan = await open_plan(health_bot, slack, answer, "Re-authenticate 1,000 invalid grants")
    shown = plan.text()
    assert "1,000 invalid grants: re-authenticated" in shown and "1,000 Nylas calls" in shown
    assert GMAIL in shown  # Google: the scopes the grants carry
    plan.type("Reason", "The key was rotated (OPS-456)")
    submitted = await plan.submit()
    assert submitted.ack.get("response_action") == "update"
    [request] = await slack.wait_for("chat.postMessage", is_approval_request)
    assert f"<@{ADMIN}> asks to re-authenticate grants (run 1)" in request.text_blob()
    await health_bot.settled()
    assert (await Person(health_bot, slack, ANN).click(request, "Approve")).status == 200

    report = await wait_for_csv(slack)
    assert (
        run_csv_preamble(report)[0] == "# bulkauth run 1 · re-authentication · credential acme.com"
    )
    rows = run_csv_rows(report)
    assert len(rows) == 1_000
    assert {row["outcome"] for row in rows} == {"reauthenticated"}
    assert {row["email"]: row["grant_id"] for row in rows} == ids  # every id unchanged
    assert all(nylas.grants[email]["id"] == ids[email] for email in ids)
    assert all(nylas.grants[email]["grant_status"] == "valid" for email in ids)
    assert all(g["grant_status"] == "invalid" for e, g in nylas.grants.items() if "other" in e)
    assert len(nylas.calls("POST", "/v3/connect/custom")) == 1_000
    summary = [c for c in slack.calls_to("chat.update") if "finished" in c.text_blob()]
    assert "Re-authentication run 1 finished." in texts(summary[-1].params["blocks"])
    async with health_bot.deps.sessions() as session:
        run = await session.get(BulkRun, 1)
        assert run is not None and run.kind == "reauthenticate"
        audited = await count_events(
            session=session, filters=AuditFilter(action_prefix="grant.reauthenticated")
        )
    assert audited == 1_000


@pytest.mark.parametrize("health_bot", ["postgresql"], indirect=True)
async def test_only_the_named_grants_are_planned_on_postgresql(
    health_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The entry point others call (alerts, rotation) with a subset: grant ids or mailboxes."""
    credential = await seed_credential(health_bot, nylas, provider="microsoft")
    ids = invalid_grants(nylas, credential, 5)
    answer = await ask_health(health_bot, slack, "acme.com")
    assert "*acme.com* (Microsoft): 0 valid · 5 invalid" in texts(answer.params["blocks"])
    assert credential.id is not None
    await health_bot.deps.reauth.propose_reauthentication(
        credential_id=credential.id,
        only=[ids["user1@acme.com"], "USER3@acme.com"],
        requester=await health_bot.deps.access.actor(ADMIN),
        trigger_id="1.2.trigger",
        channel_id="C0OPS",
    )
    opened = slack.calls_to("views.open")[-1]
    plan = await (await Person(health_bot, slack, ADMIN).modal_from(opened)).wait_for("Dry run")
    assert "2 invalid grants: re-authenticated" in plan.text()
    assert "user1@acme.com" in plan.text() and "user3@acme.com" in plan.text()
    plan.type("Reason", "Secret renewed")
    await plan.submit()
    [request] = await slack.wait_for("chat.postMessage", is_approval_request)
    await health_bot.settled()
    await Person(health_bot, slack, ANN).click(request, "Approve")
    rows = run_csv_rows(await wait_for_csv(slack))
    assert {row["email"]: row["grant_id"] for row in rows} == {
        email: ids[email] for email in ("user1@acme.com", "user3@acme.com")
    }
    assert [nylas.grants[f"user{i}@acme.com"]["grant_status"] for i in range(5)] == [
        "invalid",
        "valid",
        "invalid",
        "valid",
        "invalid",
    ]


async def test_grants_valid_again_before_the_click_say_so_with_the_name_escaped(
    health_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    hostile = "<https://evil.example|Open the Nylas dashboard>"
    credential = await seed_credential(health_bot, nylas, name=hostile)
    [email] = invalid_grants(nylas, credential, 1)
    answer = await ask_health(health_bot, slack)
    nylas.grants[email]["grant_status"] = "valid"  # re-authenticated elsewhere meanwhile
    person = Person(health_bot, slack, ADMIN)
    assert (await person.click(answer, "Re-authenticate 1 invalid grant")).status == 200
    modal = await (await person.next_modal()).wait_for("nothing to re-authenticate")
    assert "&lt;https://evil.example|Open the Nylas dashboard&gt;" in json.dumps(modal.view)
