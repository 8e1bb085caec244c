"""Registering and listing credentials through the running bot, the fake Slack and fake Nylas."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from storage.audit import latest_events
from storage.credentials import list_credentials
from tests.conftest import ADMIN, RunningBot
from tests.credential_flow import (
    AZURE_APP,
    registration_outcome,
    submit_google,
    submit_microsoft,
)
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import fill_request
from tests.keys import ec_pem, key_json, unreadable_pem
from tests.slack_ui import Person, assert_refused_in_place


async def test_google_modal_opens_at_once_with_both_key_inputs(
    bot: RunningBot, slack: FakeSlack
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    assert view.view["callback_id"] == "credential_google"
    blocks = {block.get("block_id"): block for block in view.blocks}
    assert blocks["key_file"]["element"]["type"] == "file_input"
    assert blocks["key_file"]["element"]["filetypes"] == ["json"]
    assert blocks["key_json"]["element"]["multiline"] is True


async def test_credential_without_provider_explains_usage(bot: RunningBot) -> None:
    from tests.slack_requests import slash_command

    response = await bot.command(slash_command("credential yahoo", user_id=ADMIN))
    assert "credential google" in json.loads(await response.text())["text"]


async def test_google_registration_with_pasted_key(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    status, ack = await submit_google(view, pasted=key_json())
    assert status == 200 and ack["response_action"] == "update"
    assert "Registering" in json.dumps(ack["view"]) and "Registering" in view.text()
    outcome = await registration_outcome(view, "Registered")
    [stored] = nylas.credentials.values()
    assert stored.credential_type == "serviceaccount" and stored.name == "acme.com"
    assert stored.id in outcome and "nylas-bulk@acme-bulk.iam.gserviceaccount.com" in outcome
    told = await slack.wait_for("chat.postEphemeral", lambda c: stored.id in c.text_blob())
    assert told[0].params["user"] == ADMIN and told[0].params["channel"] == "C0OPS"
    assert "grants acme.com" in told[0].text_blob()
    person = Person(bot, slack, ADMIN)
    await person.click(told[0], "Create grants")
    grants = await person.next_modal(lambda c: "grants_request" in c.text_blob())
    assert grants.blocks[0]["element"]["initial_option"]["text"]["text"] == "acme.com (Google)"
    fill_request(grants, users="ann@acme.com")
    assert (await grants.submit()).ack["response_action"] == "update"
    assert "1 new users" in (await grants.wait_for("Dry run")).text()
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
        [event] = await latest_events(session=session, limit=1)
    assert (record.nylas_credential_id, record.client_email, record.registered_by) == (
        stored.id,
        "nylas-bulk@acme-bulk.iam.gserviceaccount.com",
        ADMIN,
    )
    assert (event.action, event.credential_id, event.actor_name) == (
        "credential.registered",
        stored.id,
        "Ada Admin",
    )
    assert event.request_id


async def test_google_registration_with_uploaded_key_downloads_it_then_deletes_it(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    upload = slack.host_file(key_json().encode(), filename="acme-key.json")
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    _, ack = await submit_google(view, upload=upload)
    assert ack["response_action"] == "update"
    outcome = await registration_outcome(view, "Registered")
    assert slack.calls_to("files.download")[0].token.startswith("xoxb-")
    assert slack.deleted_files == [upload["id"]]
    assert "deleted from Slack" in outcome
    assert len(nylas.credentials) == 1


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_when_slack_refuses_to_delete_the_upload_the_user_is_told_how(
    bot: RunningBot, slack: FakeSlack, failure: str
) -> None:
    """Slack refused, or never answered (the connection dropped, and the client's retries too):
    the credential is registered and the person is told the key is still in Slack. Unanswered,
    they used to get a generic error, and were not told."""
    upload = slack.host_file(key_json().encode(), filename="acme-key.json")
    if failure == "refused":
        slack.fail_next("files.delete", status=200, error="cant_delete_file", retry_after=None)
    else:
        slack.drop_next("files.delete", times=3)  # the call and the client's two retries
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(view, upload=upload)
    outcome = await registration_outcome(view, "Registered")
    assert "stays in Slack" in outcome and "Delete file" in outcome


GOOGLE_INVALID = [
    pytest.param(
        {},
        {"key_file": "Upload the service account", "key_json": "Upload the"},
        id="neither-key-input",
    ),
    pytest.param(
        {"pasted": "{}", "upload": "file"},
        {"key_file": "either as a file or pasted"},
        id="both-key-inputs",
    ),
    pytest.param({"pasted": "{not json"}, {"key_json": "This is not JSON"}, id="not-json"),
    pytest.param({"pasted": "[1, 2]"}, {"key_json": "expected an object"}, id="json-array"),
    pytest.param(
        {"pasted": key_json(type="authorized_user")},
        {"key_json": "service_account"},
        id="wrong-type",
    ),
    pytest.param(
        {"pasted": key_json(private_key_id="", client_email=None)},
        {"key_json": "lacks `private_key_id`, `client_email`"},
        id="missing-fields",
    ),
    pytest.param(
        {"pasted": key_json(project_id=" ")}, {"key_json": "lacks `project_id`"}, id="blank-project"
    ),
    pytest.param(
        {"pasted": key_json(pem=unreadable_pem())},
        {"key_json": "not a readable PEM"},
        id="bad-pem",
    ),
    pytest.param(
        {"pasted": key_json(pem=ec_pem())}, {"key_json": "must be an RSA key"}, id="not-rsa"
    ),
    pytest.param(
        {"pasted": key_json(client_email="not-an-email")},
        {"key_json": "not an email address"},
        id="bad-client-email",
    ),
    pytest.param({"upload": "hello"}, {"key_file": "This is not JSON"}, id="upload-not-json"),
    pytest.param({"upload": "big"}, {"key_file": "larger than 64 KB"}, id="upload-too-large"),
    pytest.param({"upload": "txt"}, {"key_file": "JSON key (.json)"}, id="upload-not-json-name"),
    pytest.param(
        {"name": "", "pasted": key_json()},
        {"credential_name": "Give the credential"},
        id="empty-name",
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), GOOGLE_INVALID)
async def test_google_modal_rejects_bad_input_in_place_and_sends_nothing(
    bot: RunningBot,
    slack: FakeSlack,
    nylas: FakeNylas,
    inputs: dict[str, str],
    expected: dict[str, str],
) -> None:
    upload = {
        "file": slack.host_file(b"{}"),
        "hello": slack.host_file(b"hello"),
        "big": {**slack.host_file(b"{}"), "size": 70_000},
        "txt": slack.host_file(key_json().encode(), filename="key.txt"),
    }.get(inputs.get("upload", ""))
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    status, ack = await submit_google(
        view, name=inputs.get("name", "acme.com"), pasted=inputs.get("pasted"), upload=upload
    )
    assert status == 200 and ack["response_action"] == "errors"
    for block_id, fragment in expected.items():
        assert fragment in ack["errors"][block_id]
    assert nylas.requests == []
    await bot.settled()  # the refusal is audited right after the ack
    async with bot.deps.sessions() as session:
        [event] = await latest_events(session=session, limit=1)
    assert (event.action, event.outcome) == ("input.rejected", "refused")


async def test_a_name_already_used_for_the_provider_is_refused(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(view, name="Acme.com", pasted=key_json())
    await registration_outcome(view, "Registered")
    again = await Person(bot, slack, ADMIN).open_modal("credential google")
    _, ack = await submit_google(again, name="acme.COM", pasted=key_json())
    assert "already has this name" in ack["errors"]["credential_name"]
    assert len(nylas.calls("POST", r"/v3/connectors/google/creds")) == 1


async def test_missing_connector_registers_nothing_and_says_how_to_add_one(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    del nylas.connectors["google"]
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(view, pasted=key_json())
    outcome = await registration_outcome(view, "no Google connector")
    assert "Create Connector" in outcome and "Dashboard" in outcome
    assert nylas.calls("POST", r".*/creds") == []
    async with bot.deps.sessions() as session:
        assert await list_credentials(session=session) == []
        [event] = await latest_events(session=session, limit=1)
    assert (event.action, event.outcome) == ("credential.registration_failed", "no_connector")


async def test_nylas_error_is_shown_with_request_id_and_retry_needs_no_retyping(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.fail("POST", r"/v3/connectors/google/creds", status=400)
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(view, pasted=key_json())
    failed = await registration_outcome(view, "did not register")
    request_id = nylas.calls("POST", r".*/creds")[0].response["request_id"]
    assert request_id in failed and "scripted 400" in failed
    response = await view.click("Try again")
    assert response.status == 200
    await registration_outcome(view, "Registered")
    assert len(nylas.credentials) == 1
    async with bot.deps.sessions() as session:
        actions = [e.action for e in await latest_events(session=session, limit=2)]
    assert actions == ["credential.registered", "credential.registration_failed"]


async def test_microsoft_registration_with_app_credentials(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    _, ack = await submit_microsoft(view, expires="2099-01-31")
    assert ack["response_action"] == "update"
    outcome = await registration_outcome(view, "Registered")
    [stored] = nylas.credentials.values()
    assert stored.credential_type == "adminconsent"
    assert stored.data == {
        "tenant": "contoso.com",
        "client_id": AZURE_APP,
        "client_secret": "ms-secret-value-1234",
    }
    assert "consent contoso.com" in outcome and "override the scopes" in outcome
    async with bot.deps.sessions() as session:
        [record] = await list_credentials(session=session)
    assert (record.tenant, record.client_id, str(record.secret_expires_on)) == (
        "contoso.com",
        AZURE_APP,
        "2099-01-31",
    )


async def test_microsoft_registration_with_the_connectors_app_and_common_tenant(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(view, tenant="Common", client_id="", secret="", connector_app=True)
    outcome = await registration_outcome(view, "Registered")
    assert [c.data for c in nylas.credentials.values()] == [{"tenant": "common"}]
    assert "API permissions" in outcome


MICROSOFT_INVALID = [
    pytest.param({"client_id": "not-a-guid"}, {"client_id": "GUID"}, id="client-id"),
    pytest.param({"tenant": "contoso"}, {"tenant": "domain like contoso.com"}, id="tenant"),
    pytest.param({"tenant": ""}, {"tenant": "Give the tenant"}, id="no-tenant"),
    pytest.param({"secret": ""}, {"client_secret": "Give the client secret"}, id="no-secret"),
    pytest.param(
        {"connector_app": True},
        {"client_id": "Leave empty", "client_secret": "Leave empty"},
        id="both-ways",
    ),
    pytest.param({"expires": "2001-01-01"}, {"secret_expires_on": "in the past"}, id="expired"),
]


@pytest.mark.parametrize(("inputs", "expected"), MICROSOFT_INVALID)
async def test_microsoft_modal_rejects_bad_input_in_place(
    bot: RunningBot,
    slack: FakeSlack,
    nylas: FakeNylas,
    inputs: dict[str, Any],
    expected: dict[str, str],
) -> None:
    view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    _, ack = await submit_microsoft(view, **inputs)
    assert_refused_in_place(ack, expected)
    assert nylas.requests == []


async def test_credentials_list_joins_nylas_with_who_registered(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    from tests.slack_requests import slash_command

    response = await bot.command(
        slash_command("credentials", user_id=ADMIN, response_url=slack.response_url())
    )
    assert response.status == 200
    [empty] = await slack.wait_for("response_url")
    assert "No credentials yet" in empty.text_blob()
    for name in ("first.com", "second.com"):
        view = await Person(bot, slack, ADMIN).open_modal("credential google")
        await submit_google(view, name=name, pasted=key_json())
        await registration_outcome(view, "Registered")
    view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
    await submit_microsoft(
        view,
    )
    await registration_outcome(view, "Registered")
    nylas.credentials["outside"] = type(next(iter(nylas.credentials.values())))(
        "outside", "google", "made-elsewhere", "serviceaccount", {}, 1, 1
    )
    await bot.command(
        slash_command("credentials google", user_id=ADMIN, response_url=slack.response_url())
    )
    google = (await slack.wait_for("response_url", count=2))[-1].text_blob()
    assert "first.com" in google and "second.com" in google and "contoso.com" not in google
    assert f"<@{ADMIN}>" in google and "not registered here" in google
    await bot.command(
        slash_command("credentials", user_id=ADMIN, response_url=slack.response_url())
    )
    everything = (await slack.wait_for("response_url", count=3))[-1].text_blob()
    assert "contoso.com" in everything and "consent: not requested" in everything
    assert len(nylas.calls("GET", r"/v3/connectors/google/creds")) >= 2


async def test_three_clicks_on_try_again_register_once(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.fail("POST", r"/v3/connectors/google/creds", status=400)
    view = await Person(bot, slack, ADMIN).open_modal("credential google")
    await submit_google(view, pasted=key_json())
    await registration_outcome(view, "did not register")
    nylas.latency = 0.3  # the first retry is still under way when the others arrive
    await asyncio.gather(*(view.click("Try again") for _ in range(3)))
    await registration_outcome(view, "Registered")
    await bot.settled()
    assert len(nylas.calls("POST", r".*/creds")) == 2  # the failed one and one retry
    assert len(nylas.credentials) == 1


async def test_a_registration_that_fails_unexpectedly_says_so_in_its_modal(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The database refuses the new credential's row (as a failing database does): the modal
    must not stay on "Registering…"; the person sees the failure with a reference id."""

    def refuse_credential_rows(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CREDENTIAL"):
            raise OperationalError(statement, None, Exception("disk I/O error"))

    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    event.listen(bot.deps.database.sync_engine, "before_cursor_execute", refuse_credential_rows)
    try:
        await submit_google(modal, pasted=key_json())
        await bot.settled()
    finally:
        event.remove(bot.deps.database.sync_engine, "before_cursor_execute", refuse_credential_rows)
    assert "Registering" not in modal.text() and "went wrong on our side (ref `" in modal.text()
    [told] = [c for c in slack.calls_to("chat.postEphemeral") if "ref `" in c.text_blob()]
    assert told.params["user"] == ADMIN
