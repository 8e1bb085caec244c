"""Rotating a credential's secret or key through the running bot: `/bulkauth credential rotate`,
the provider check before any PATCH, a PATCH that carries the complete credential_data (Nylas
replaces it whole), grants that keep working, the audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.nylas.errors import NylasError
from bot.nylas.models import BulkAuthRequest
from storage.audit import latest_events
from storage.credentials import list_credentials
from storage.models import CredentialRecord
from tests.conftest import ADMIN, AZURE_APP, NYLAS_API_KEY, OUTSIDER, RunningBot
from tests.credential_flow import registration_outcome, submit_google, submit_microsoft
from tests.fakes.identity import FakeGoogle, FakeMicrosoft
from tests.fakes.nylas import FakeNylas, StoredCredential
from tests.fakes.slack import FakeSlack
from tests.keys import key_file, key_json, rsa_pem
from tests.slack_ui import Modal, Person, assert_refused_in_place

NEW_SECRET = "ms-new-secret-value-5678"
SERVICE_ACCOUNT = "nylas-bulk@acme-bulk.iam.gserviceaccount.com"
NEW_KEY_ID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def credential_data_sent(nylas: FakeNylas, method: str) -> list[dict[str, Any]]:
    return [
        r.body["credential_data"]
        for r in nylas.requests
        if r.method == method and "/creds" in r.path and isinstance(r.body, dict)
    ]


async def register_microsoft(bot: RunningBot, slack: FakeSlack) -> None:
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(modal, expires=in_days(200))
    await registration_outcome(modal, "Registered")


async def register_google(bot: RunningBot, slack: FakeSlack, google: FakeGoogle) -> str:
    pem = rsa_pem()
    google.add_service_account(SERVICE_ACCOUNT, pem)
    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(modal, pasted=key_json(pem))
    await registration_outcome(modal, "Registered")
    return pem


async def custom_auth(bot: RunningBot, nylas: FakeNylas, provider: str, email: str) -> str:
    [stored] = nylas.credentials.values()
    created = await bot.deps.nylas.create_bulk_grant(
        BulkAuthRequest.model_validate(
            {
                "provider": provider,
                "credential_id": stored.id,
                "email_address": email,
                "scopes": ["https://www.googleapis.com/auth/gmail.readonly"]
                if provider == "google"
                else None,
            }
        )
    )
    return str(created.data.grant_status)


async def rotation_modal(bot: RunningBot, slack: FakeSlack, name: str) -> Modal:
    return await Person(bot, slack, ADMIN).open_modal(f"credential rotate {name}")


async def test_microsoft_rotation_patches_the_complete_data_and_grants_keep_working(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    await register_microsoft(bot, slack)
    assert await custom_auth(bot, nylas, "microsoft", "ann@contoso.com") == "valid"
    microsoft.apps[AZURE_APP].secrets.add(NEW_SECRET)  # made in Azure before rotating
    modal = await rotation_modal(bot, slack, "contoso.com")
    assert modal.view["callback_id"] == "rotate_microsoft"
    assert not modal.has_input("Tenant") and not modal.has_input("Azure app client id")
    modal.type("New client secret", NEW_SECRET)
    modal.pick_date("New secret expires on", in_days(365))
    assert (await modal.submit()).ack["response_action"] == "update"
    outcome = (await modal.wait_for("Rotated")).text()
    assert "health contoso.com" in outcome  # where to re-authenticate invalid grants
    [posted], [patched] = credential_data_sent(nylas, "POST"), credential_data_sent(nylas, "PATCH")
    assert set(posted) <= set(patched), f"the PATCH lost {set(posted) - set(patched)}"
    assert patched == {**posted, "client_secret": NEW_SECRET}
    assert await custom_auth(bot, nylas, "microsoft", "bob@contoso.com") == "valid"
    told = await slack.wait_for("chat.postEphemeral", lambda c: "Rotated" in c.text_blob())
    assert told[0].params["user"] == ADMIN
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
        [event] = await latest_events(session=session, limit=1)
    assert record.secret_expires_on is not None
    assert record.secret_expires_on.isoformat() == in_days(365)
    assert (event.action, event.actor_id, event.credential_id) == (
        "credential.rotated",
        ADMIN,
        record.nylas_credential_id,
    )
    details = json.loads(event.details)
    assert (details["old_expiry"], details["new_expiry"]) == (in_days(200), in_days(365))
    assert NEW_SECRET not in event.details


async def test_after_a_rotation_one_click_plans_the_re_authentication_of_invalid_grants(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    await register_microsoft(bot, slack)
    [stored] = nylas.credentials.values()
    nylas.add_grant(
        "gone@contoso.com", provider="microsoft", status="invalid", credential_id=stored.id
    )
    microsoft.apps[AZURE_APP].secrets.add(NEW_SECRET)
    modal = await rotation_modal(bot, slack, "contoso.com")
    modal.type("New client secret", NEW_SECRET)
    modal.pick_date("New secret expires on", in_days(365))
    await modal.submit()
    [told] = await slack.wait_for("chat.postEphemeral", lambda c: "Rotated" in c.text_blob())
    person = Person(bot, slack, ADMIN)
    assert (await person.click(told, "Re-authenticate invalid grants")).status == 200
    plan = await (await person.next_modal()).wait_for("Dry run", timeout=20)
    assert "1 invalid grants: re-authenticated" in plan.text()


async def test_a_wrong_microsoft_secret_is_refused_by_the_token_check_before_any_patch(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await register_microsoft(bot, slack)
    modal = await rotation_modal(bot, slack, "contoso.com")
    modal.type("New client secret", "not-the-secret")
    modal.pick_date("New secret expires on", in_days(365))
    submission = await modal.submit()
    assert_refused_in_place(submission.ack, {"client_secret": "secret"})
    assert credential_data_sent(nylas, "PATCH") == []


async def test_tenant_common_cannot_be_checked_and_says_so(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(modal, name="any-org", tenant="common")
    await registration_outcome(modal, "Registered")
    rotation = await rotation_modal(bot, slack, "any-org")
    rotation.type("New client secret", "not-checkable")
    rotation.pick_date("New secret expires on", in_days(100))
    assert (await rotation.submit()).ack["response_action"] == "update"
    assert "cannot be tried" in (await rotation.wait_for("Rotated")).text()
    assert microsoft.tokens_issued == 0  # neither the registration nor the rotation asked
    [patched] = credential_data_sent(nylas, "PATCH")
    assert patched["tenant"] == "common" and patched["client_id"] == AZURE_APP


async def test_google_rotation_takes_a_new_key_of_the_same_service_account(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle
) -> None:
    await register_google(bot, slack, google)
    google.mailboxes.add("ann@acme.com")
    new_pem = rsa_pem()
    google.add_service_account(SERVICE_ACCOUNT, new_pem)  # the new key, made in Google Cloud
    upload = slack.host_file(
        json.dumps(key_file(new_pem, private_key_id=NEW_KEY_ID)).encode(), filename="new.json"
    )
    modal = await rotation_modal(bot, slack, "acme.com")
    modal.attach("New JSON key file", upload)
    assert (await modal.submit()).ack["response_action"] == "update"
    outcome = (await modal.wait_for("Rotated")).text()
    assert NEW_KEY_ID in outcome and "deleted from Slack" in outcome
    assert slack.deleted_files == [upload["id"]]
    [posted], [patched] = credential_data_sent(nylas, "POST"), credential_data_sent(nylas, "PATCH")
    assert set(posted) <= set(patched), f"the PATCH lost {set(posted) - set(patched)}"
    assert patched["private_key"] == new_pem and patched["private_key_id"] == NEW_KEY_ID
    assert await custom_auth(bot, nylas, "google", "ann@acme.com") == "valid"
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
        [event] = await latest_events(session=session, limit=1)
    assert record.private_key_id == NEW_KEY_ID and record.secret_set_at is not None
    assert event.action == "credential.rotated" and event.actor_id == ADMIN
    assert json.loads(event.details)["new_key_id"] == NEW_KEY_ID
    assert "PRIVATE KEY" not in event.details


async def test_a_key_of_another_service_account_is_refused_with_the_reason(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle
) -> None:
    await register_google(bot, slack, google)
    pem = rsa_pem()
    google.add_service_account("other@acme-bulk.iam.gserviceaccount.com", pem)
    modal = await rotation_modal(bot, slack, "acme.com")
    modal.type(
        "…or paste the new JSON key",
        key_json(pem, client_email="other@acme-bulk.iam.gserviceaccount.com"),
    )
    submission = await modal.submit()
    assert_refused_in_place(submission.ack, {"key_json": "another service account"})
    assert "register it as a new credential" in submission.ack["errors"]["key_json"]
    assert credential_data_sent(nylas, "PATCH") == []


async def test_a_key_google_refuses_is_not_sent_to_nylas(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle
) -> None:
    await register_google(bot, slack, google)
    modal = await rotation_modal(bot, slack, "acme.com")  # a key Google never issued
    modal.type("…or paste the new JSON key", key_json(private_key_id=NEW_KEY_ID))
    submission = await modal.submit()
    assert submission.ack["response_action"] == "errors"
    assert "key_json" in submission.ack["errors"]
    assert credential_data_sent(nylas, "PATCH") == []


async def test_only_admins_rotate(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    await register_microsoft(bot, slack)
    response = await Person(bot, slack, OUTSIDER).command("credential rotate contoso.com")
    assert "not allowed" in json.loads(await response.text())["text"]
    modal = await rotation_modal(bot, slack, "contoso.com")
    microsoft.apps[AZURE_APP].secrets.add(NEW_SECRET)
    modal.type("New client secret", NEW_SECRET)
    modal.pick_date("New secret expires on", in_days(365))
    forged = Modal(Person(bot, slack, OUTSIDER), modal.view_id)  # someone else submits it
    forged.values = modal.values
    submission = await forged.submit()
    assert "not allowed" in json.dumps(submission.ack)
    assert credential_data_sent(nylas, "PATCH") == []


async def test_unknown_credential_and_missing_name_are_explained(
    bot: RunningBot, slack: FakeSlack
) -> None:
    person = Person(bot, slack, ADMIN)
    unknown = json.loads(await (await person.command("credential rotate nope")).text())
    assert "No credential is named `nope`" in unknown["text"]
    usage = json.loads(await (await person.command("credential rotate")).text())
    assert "credential rotate &lt;name or id&gt;" in usage["text"]


async def test_a_partial_patch_breaks_the_fake_credential_as_it_breaks_at_nylas(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The fake's PATCH replaces credential_data whole, as Nylas does: sending only the new
    secret loses the tenant and client id, and custom auth then fails."""
    await register_microsoft(bot, slack)
    [stored] = nylas.credentials.values()
    async with aiohttp.ClientSession() as http:
        reply = await http.patch(
            f"{nylas.url}/v3/connectors/microsoft/creds/{stored.id}",
            json={"credential_data": {"client_secret": NEW_SECRET}},
            headers={"Authorization": f"Bearer {NYLAS_API_KEY}"},
        )
        assert reply.status == 200
    assert stored.data == {"client_secret": NEW_SECRET}
    with pytest.raises(NylasError) as refused:
        await custom_auth(bot, nylas, "microsoft", "ann@contoso.com")
    assert "lacks client_id, tenant" in str(refused.value)


async def test_when_nylas_refuses_the_patch_nothing_changes_and_the_audit_says_so(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    await register_microsoft(bot, slack)
    microsoft.apps[AZURE_APP].secrets.add(NEW_SECRET)
    nylas.fail("PATCH", r"/v3/connectors/microsoft/creds/.+", status=400)
    modal = await rotation_modal(bot, slack, "contoso.com")
    modal.type("New client secret", NEW_SECRET)
    modal.pick_date("New secret expires on", in_days(365))
    await modal.submit()
    assert "was not rotated" in (await modal.wait_for("was not rotated")).text()
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
        [event] = await latest_events(session=session, limit=1)
    assert record.secret_expires_on is not None
    assert record.secret_expires_on.isoformat() == in_days(200)
    assert (event.action, event.outcome) == ("credential.rotated", "error")


async def test_a_key_file_is_deleted_from_slack_when_nylas_refuses_the_rotation(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle
) -> None:
    await register_google(bot, slack, google)
    new_pem = rsa_pem()
    google.add_service_account(SERVICE_ACCOUNT, new_pem)
    upload = slack.host_file(
        json.dumps(key_file(new_pem, private_key_id=NEW_KEY_ID)).encode(), filename="new.json"
    )
    nylas.fail("PATCH", r"/v3/connectors/google/creds/.+", status=400)
    modal = await rotation_modal(bot, slack, "acme.com")
    modal.attach("New JSON key file", upload)
    await modal.submit()
    outcome = (await modal.wait_for("was not rotated")).text()
    assert slack.deleted_files == [upload["id"]]  # a private key does not stay in Slack
    assert "deleted from Slack" in outcome


async def test_a_credential_on_the_connector_app_is_rotated_in_the_dashboard(
    bot: RunningBot, slack: FakeSlack
) -> None:
    modal = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(modal, name="shared", client_id="", secret="", connector_app=True)
    await registration_outcome(modal, "Registered")
    answer = json.loads(
        await (await Person(bot, slack, ADMIN).command("credential rotate shared")).text()
    )
    assert "Nylas Dashboard" in answer["text"]


async def test_a_credential_recorded_without_its_client_id_asks_for_it_once(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, microsoft: FakeMicrosoft
) -> None:
    """A row written before the bot kept every fact (Nylas's GET never returns the data)."""
    stored = StoredCredential(
        "cred-legacy",
        "microsoft",
        "legacy.com",
        "adminconsent",
        {"tenant": "contoso.com", "client_id": AZURE_APP, "client_secret": "old"},
        1,
        1,
    )
    nylas.credentials[stored.id] = stored
    async with bot.deps.sessions() as session:
        session.add(
            CredentialRecord(
                nylas_credential_id=stored.id,
                provider="microsoft",
                credential_type="adminconsent",
                name="legacy.com",
                tenant="contoso.com",
                registered_by=ADMIN,
                registered_by_name="Ada Admin",
            )
        )
        await session.commit()
    microsoft.apps[AZURE_APP].secrets.add(NEW_SECRET)
    modal = await rotation_modal(bot, slack, "legacy.com")
    assert modal.has_input("Azure app client id") and not modal.has_input("Tenant")
    modal.type("Azure app client id", AZURE_APP)
    modal.type("New client secret", NEW_SECRET)
    modal.pick_date("New secret expires on", in_days(365))
    assert (await modal.submit()).ack["response_action"] == "update"
    await modal.wait_for("Rotated")
    [patched] = credential_data_sent(nylas, "PATCH")
    assert patched == {"tenant": "contoso.com", "client_id": AZURE_APP, "client_secret": NEW_SECRET}
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
    assert record.client_id == AZURE_APP
    again = await rotation_modal(bot, slack, "legacy.com")
    assert not again.has_input("Azure app client id")
