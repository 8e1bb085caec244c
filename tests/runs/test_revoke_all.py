"""Offboarding across every credential, end to end through the running bot: "All credentials"
in the revoke modal, a dry run per credential (a Google and a Microsoft one), one request that
someone other than the requester approves, every grant of those users deleted whichever
credential made it, one CSV naming each grant's credential, and the audit naming it too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from storage.models import AuditEvent, BulkRun, CredentialRecord
from tests.cli import run_cli
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import (
    approval_request,
    confirm,
    run_csv_preamble,
    seed_credential,
    wait_for_csv,
)
from tests.runs.conftest import RUN_SETTINGS, csv_rows
from tests.slack_ui import Modal, Person

ANN, BOB = "U0ANN", "U0BOB"
REASON = "Dana left the company (HR-77)"
LEAVERS = ["g0@acme.com", "g1@acme.com", "m0@acme.com", "m1@acme.com", "none@acme.com"]


@pytest.fixture
async def bot(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[RunningBot]:
    """No approval channel; three admins: a revocation's two approvals come from the others."""
    slack.add_user(ANN, "Ann")
    slack.add_user(BOB, "Bob")
    settings = make_settings(**RUN_SETTINGS, bulkauth_admins=[ADMIN, ANN, BOB])
    async with run_bot(settings) as running:
        yield running


async def two_credentials(
    bot: RunningBot, nylas: FakeNylas
) -> tuple[CredentialRecord, CredentialRecord, dict[str, str]]:
    """A Google and a Microsoft credential; the leavers' grants on one or the other (Nylas
    keeps one grant per mailbox), one leaver without any, and other people's grants on both.
    Returns the leavers' grant ids by email."""
    google = await seed_credential(bot, nylas)
    microsoft = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    ids = {
        "g0@acme.com": nylas.add_grant("g0@acme.com", credential_id=google.nylas_credential_id),
        "g1@acme.com": nylas.add_grant(
            "g1@acme.com", status="invalid", credential_id=google.nylas_credential_id
        ),
        "m0@acme.com": nylas.add_grant(
            "m0@acme.com", provider="microsoft", credential_id=microsoft.nylas_credential_id
        ),
        "m1@acme.com": nylas.add_grant(
            "m1@acme.com", provider="microsoft", credential_id=microsoft.nylas_credential_id
        ),
    }
    nylas.add_grant("stays@acme.com", credential_id=google.nylas_credential_id)
    nylas.add_grant(
        "stays-too@acme.com", provider="microsoft", credential_id=microsoft.nylas_credential_id
    )
    return google, microsoft, {email: grant["id"] for email, grant in ids.items()}


async def plan_all(
    bot: RunningBot, slack: FakeSlack, people: list[str], *, typed: bool = False
) -> Modal:
    """The revoke modal with All credentials chosen in its select, or named in the command."""
    if typed:
        modal = await Person(bot, slack, ADMIN).open_modal("revoke all")
    else:
        modal = await Person(bot, slack, ADMIN).open_modal("revoke")
        await modal.choose("Credential", "All credentials")
    modal.type("Users", "\n".join(people))
    modal.type("Reason", REASON)
    submitted = await modal.submit()
    assert submitted.ack.get("response_action") == "update", submitted.ack
    return await modal.wait_for("Dry run")


async def test_all_credentials_deletes_every_grant_of_the_leavers_on_both_credentials(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    google, microsoft, leavers = await two_credentials(bot, nylas)
    shown = await plan_all(bot, slack, LEAVERS)
    text = shown.text()
    assert "All credentials" in text
    assert "*acme.com (Google)*: 2 grants will be deleted (1 of them already invalid)" in text
    assert "*contoso.com (Microsoft)*: 2 grants will be deleted" in text
    assert "1 have no grant of any credential: nothing to do" in text
    assert "4 DELETE calls" in text
    await confirm(bot, shown)
    request = await approval_request(slack, bot)
    assert (await slack.answer_of(request))["channel"].startswith("G")  # DM with the others
    assert "All credentials" in request.text_blob() and REASON in request.text_blob()

    await Person(bot, slack, ADMIN).click(request, "Approve")
    await slack.wait_for(
        "chat.postEphemeral",
        lambda c: c.params["user"] == ADMIN and "your own request" in c.text_blob(),
    )
    assert not nylas.calls("DELETE", r"/v3/grants/.*")
    await Person(bot, slack, ANN).click(request, "Approve")
    await Person(bot, slack, BOB).click(request, "Approve")

    report = await wait_for_csv(slack)
    rows = csv_rows(report)
    assert {email: (row["credential"], row["outcome"]) for email, row in rows.items()} == {
        "g0@acme.com": ("acme.com (Google)", "revoked"),
        "g1@acme.com": ("acme.com (Google)", "revoked"),
        "m0@acme.com": ("contoso.com (Microsoft)", "revoked"),
        "m1@acme.com": ("contoso.com (Microsoft)", "revoked"),
        "none@acme.com": ("", "skipped"),
    }
    assert {email: row["grant_id"] for email, row in rows.items() if row["grant_id"]} == leavers
    assert "credential All credentials" in run_csv_preamble(report)[0]
    deleted = {call.path.rsplit("/", 1)[1] for call in nylas.calls("DELETE", r"/v3/grants/.*")}
    assert deleted == set(leavers.values())
    assert set(nylas.grants) == {"stays@acme.com", "stays-too@acme.com"}

    await bot.settled()
    async with bot.deps.sessions() as session:
        runs = (await session.exec(select(BulkRun))).all()
        revoked = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "grant.revoked"))
        ).all()
    [run] = runs  # one request, one run, one progress message, one CSV
    assert run.credential_id is None and run.status == "finished"
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    owner = {
        "g0@acme.com": google.nylas_credential_id,
        "g1@acme.com": google.nylas_credential_id,
        "m0@acme.com": microsoft.nylas_credential_id,
        "m1@acme.com": microsoft.nylas_credential_id,
    }
    assert {event.email: event.credential_id for event in revoked} == owner
    details = json.loads(revoked[0].details)
    assert details["requested_by"] == ADMIN and details["reason"] == REASON
    assert "Ann" in details["approvers"] and "Bob" in details["approvers"]
    summary = [c for c in slack.calls_to("chat.update") if "Run 1" in c.text_blob()][-1]
    assert "All credentials" in summary.text_blob()
    await Person(bot, slack, ADMIN).command("status")  # the run is listed by that name too
    [status] = await slack.wait_for("response_url")
    assert "All credentials" in json.dumps(status.params["blocks"])
    code, out, err = await run_cli(bot.deps.database, "runs", "list", "--json", cwd=tmp_path)
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["credential_name"] == "All credentials"


async def test_an_all_credentials_request_is_stale_once_a_credential_changes(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await two_credentials(bot, nylas)
    await confirm(bot, await plan_all(bot, slack, LEAVERS, typed=True))  # `/bulkauth revoke all`
    request = await approval_request(slack, bot)
    await seed_credential(bot, nylas, name="newcomer.com")  # registered after the plan
    await Person(bot, slack, ANN).click(request, "Approve")
    await slack.wait_for(
        "chat.postEphemeral",
        lambda c: c.params["user"] == ANN and "stale" in c.text_blob(),
    )
    await bot.settled()
    assert not nylas.calls("DELETE", r"/v3/grants/.*")
