"""A credential is tried with its provider before anything is registered: each failure mode
seen in the field lands on the modal field it is about, with the fix, and Nylas is not called
unless the person chose to register anyway."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from storage.audit import AuditFilter, latest_events
from tests.conftest import ADMIN, AZURE_APP, RunningBot
from tests.credential_flow import fill_google, fill_microsoft, registration_outcome
from tests.fakes.identity import FakeGoogle, FakeMicrosoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.keys import key_json, rsa_pem
from tests.slack_ui import Modal, Person, assert_refused_in_place

ACCOUNT = "nylas-bulk@acme-bulk.iam.gserviceaccount.com"
CLIENT_ID = "104512345678901234567"
GMAIL = "https://www.googleapis.com/auth/gmail.readonly"
CALENDAR = "https://www.googleapis.com/auth/calendar"


def creds_calls(nylas: FakeNylas) -> int:
    return len(nylas.calls("POST", r"/v3/connectors/\w+/creds"))


async def registered_check(bot: RunningBot) -> dict[str, object]:
    await bot.settled()
    async with bot.deps.sessions() as session:
        [event] = await latest_events(
            session=session, filters=AuditFilter(action_prefix="credential.registered")
        )
    return dict(json.loads(event.details))


async def google_modal(
    bot: RunningBot, slack: FakeSlack, pem: str, *, mailbox: str, scopes: tuple[str, ...]
) -> Modal:
    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    fill_google(modal, pasted=key_json(pem))
    modal.type("Test mailbox", mailbox)
    modal.choose_many("Scopes to test", *scopes)
    return modal


@pytest.fixture
def pem(google: FakeGoogle) -> str:
    """The service account's key, delegated for Gmail only; ann@acme.com exists."""
    key = rsa_pem()
    google.add_service_account(ACCOUNT, key, GMAIL)
    google.mailboxes.add("ann@acme.com")
    return key


async def test_a_delegated_key_passes_scope_by_scope_and_registers(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle, pem: str
) -> None:
    google.accounts[ACCOUNT].delegated_scopes.add(CALENDAR)
    modal = await google_modal(bot, slack, pem, mailbox="ann@acme.com", scopes=(GMAIL, CALENDAR))
    assert (await modal.submit()).ack["response_action"] == "update"
    await registration_outcome(modal, "Registered")
    assert google.tokens_issued == 2  # one token per scope
    assert (await registered_check(bot))["check"] == "passed"


async def test_missing_delegation_names_the_scope_and_links_the_fix(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, pem: str
) -> None:
    modal = await google_modal(bot, slack, pem, mailbox="ann@acme.com", scopes=(GMAIL, CALENDAR))
    ack = (await modal.submit()).ack
    assert_refused_in_place(ack, {"test_scopes": "delegation is missing"})
    error = ack["errors"]["test_scopes"]
    assert f"Not delegated: {CALENDAR}." in error and GMAIL not in error.split("Add it")[0]
    link = error.split("Add it: ")[1].split(" ")[0]
    query = parse_qs(urlsplit(link).query)
    assert link.startswith("https://admin.google.com/ac/owl/domainwidedelegation?")
    assert query["clientIdToAdd"] == [CLIENT_ID] and query["clientScopeToAdd"] == [CALENDAR]
    assert creds_calls(nylas) == 0


@pytest.mark.parametrize(
    ("situation", "field", "words"),
    [
        ("unknown mailbox", "test_mailbox", "no such mailbox"),
        ("another account's key", "key_json", "key was deleted"),
        ("clock ten minutes off", "key_json", "clock is"),
    ],
)
async def test_each_google_failure_lands_on_its_field(
    bot: RunningBot,
    slack: FakeSlack,
    nylas: FakeNylas,
    google: FakeGoogle,
    pem: str,
    situation: str,
    field: str,
    words: str,
) -> None:
    mailbox = "nobody@acme.com" if situation == "unknown mailbox" else "ann@acme.com"
    key = rsa_pem() if situation == "another account's key" else pem
    if situation == "clock ten minutes off":
        google.clock_offset = 600
    modal = await google_modal(bot, slack, key, mailbox=mailbox, scopes=(GMAIL,))
    assert_refused_in_place((await modal.submit()).ack, {field: words})
    assert creds_calls(nylas) == 0


async def test_register_anyway_goes_on_and_is_audited(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, pem: str
) -> None:
    modal = await google_modal(bot, slack, pem, mailbox="ann@acme.com", scopes=(CALENDAR,))
    assert (await modal.submit()).ack["response_action"] == "errors"
    modal.tick("If the check fails", "register_anyway")
    assert (await modal.submit()).ack["response_action"] == "update"
    await registration_outcome(modal, "Registered")
    details = await registered_check(bot)
    assert (details["check"], details["findings"]) == ("overridden", ["delegation_missing"])
    assert creds_calls(nylas) == 1


async def test_without_a_test_mailbox_google_is_not_asked(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle
) -> None:
    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    fill_google(modal, pasted=key_json())
    await modal.submit()
    await registration_outcome(modal, "Registered")
    assert google.tokens_issued == 0 and (await registered_check(bot))["check"] == "skipped"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("secret id", "client_secret", "not its value"),
        ("expired secret", "client_secret", "expired"),
        ("unknown tenant", "tenant", "no such tenant"),
    ],
)
async def test_each_microsoft_failure_lands_on_its_field(
    bot: RunningBot,
    slack: FakeSlack,
    nylas: FakeNylas,
    microsoft: FakeMicrosoft,
    change: str,
    field: str,
    words: str,
) -> None:
    secret_id = "8c2a9f3e-1b7d-4e3a-9c1f-2a6b3c4d5e6f"  # what the portal shows beside the value
    microsoft.apps[AZURE_APP].secret_ids.add(secret_id)
    microsoft.apps[AZURE_APP].expired.add("old-secret-value")
    values = {
        "secret id": {"secret": secret_id},
        "expired secret": {"secret": "old-secret-value"},
        "unknown tenant": {"tenant": "fabrikam.example"},
    }[change]
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    fill_microsoft(modal, **values)
    assert_refused_in_place((await modal.submit()).ack, {field: words})
    assert creds_calls(nylas) == 0


async def test_an_app_not_yet_in_the_tenant_is_registered_with_a_warning(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    """Before admin consent a multi-tenant app has no service principal in the customer's
    tenant (AADSTS700016): expected at this step, so it does not block."""
    microsoft.tenants.add("fabrikam.com")
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    fill_microsoft(modal, name="fabrikam.com", tenant="fabrikam.com")
    assert (await modal.submit()).ack["response_action"] == "update"
    await registration_outcome(modal, "Registered")
    details = await registered_check(bot)
    assert (details["check"], details["findings"]) == ("warned", ["app_not_in_tenant"])


async def test_common_cannot_be_checked_and_is_not(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    assert "for `common` they cannot be" in modal.text()
    fill_microsoft(modal, tenant="common")
    await modal.submit()
    await registration_outcome(modal, "Registered")
    assert microsoft.tokens_issued == 0
    assert (await registered_check(bot))["check"] == "not possible"
