"""Registering and listing credentials: the two modals, the status views and the messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.blocks.metadata import CredentialRef, ModalOrigin, RetryToken
from bot.credentials.forms import MAX_NAME_LENGTH, USE_CONNECTOR_APP
from bot.credentials.listing import CredentialLine, build_credentials_list
from bot.credentials.messages import (
    Registered,
    build_google_credential_modal,
    build_microsoft_credential_modal,
    build_no_connector_message,
    build_registered_message,
    build_registering_view,
    build_status_view,
)
from bot.ids import ActionId, BlockId, CallbackId, CommandName
from tests.blocks.payloads import (
    HOSTILE,
    assert_escaped,
    buttons,
    inputs,
    message_payload,
    section_texts,
    shown,
    view_payload,
)

ORIGIN = ModalOrigin(channel_id="C0GRANTS")
NYLAS_ID = "2f70abcd-1234-abcd-1234-1234567890ab"


def _required(payload: dict[str, object], block_id: BlockId) -> bool:
    return not inputs(payload)[block_id].get("optional", False)  # type: ignore[arg-type]


def test_google_modal_asks_for_a_name_and_a_key_as_file_or_text() -> None:
    payload = view_payload(build_google_credential_modal(ORIGIN))
    assert payload["callback_id"] == CallbackId.GOOGLE_CREDENTIAL
    assert ModalOrigin.load(payload["private_metadata"]) == ORIGIN
    fields = inputs(payload)
    assert list(fields) == [
        BlockId.CREDENTIAL_NAME,
        BlockId.KEY_FILE,
        BlockId.KEY_JSON,
        BlockId.TEST_MAILBOX,
        BlockId.TEST_SCOPES,
        BlockId.REGISTER_ANYWAY,
    ]
    assert not any(_required(payload, block) for block in list(fields)[1:])
    assert {field["element"]["action_id"] for field in fields.values()} == {ActionId.INPUT}
    assert fields[BlockId.CREDENTIAL_NAME]["element"]["max_length"] == MAX_NAME_LENGTH
    assert _required(payload, BlockId.CREDENTIAL_NAME)
    # either one of the two ways to give the key: neither is required on its own
    assert not _required(payload, BlockId.KEY_FILE) and not _required(payload, BlockId.KEY_JSON)
    key_file = fields[BlockId.KEY_FILE]["element"]
    assert (key_file["type"], key_file["filetypes"], key_file["max_files"]) == (
        "file_input",
        ["json"],
        1,
    )
    assert "never the private key" in shown(payload)


def test_microsoft_modal_asks_for_tenant_app_or_connector_app_and_secret_expiry() -> None:
    payload = view_payload(build_microsoft_credential_modal(ModalOrigin()))
    assert payload["callback_id"] == CallbackId.MICROSOFT_CREDENTIAL
    assert ModalOrigin.load(payload["private_metadata"]) == ModalOrigin()
    fields = inputs(payload)
    assert list(fields) == [
        BlockId.CREDENTIAL_NAME,
        BlockId.TENANT,
        BlockId.CLIENT_ID,
        BlockId.CLIENT_SECRET,
        BlockId.USE_CONNECTOR_APP,
        BlockId.SECRET_EXPIRES_ON,
        BlockId.REGISTER_ANYWAY,
    ]
    assert {field["element"]["action_id"] for field in fields.values()} == {ActionId.INPUT}
    assert _required(payload, BlockId.CREDENTIAL_NAME) and _required(payload, BlockId.TENANT)
    assert not _required(payload, BlockId.CLIENT_ID)
    assert not _required(payload, BlockId.CLIENT_SECRET)
    checkbox = fields[BlockId.USE_CONNECTOR_APP]["element"]
    assert [option["value"] for option in checkbox["options"]] == [USE_CONNECTOR_APP]
    assert fields[BlockId.SECRET_EXPIRES_ON]["element"]["type"] == "datepicker"


def test_status_view_offers_try_again_only_with_a_retry_token() -> None:
    plain = view_payload(build_status_view("Google credential", ":x: Nylas said no."))
    assert plain["type"] == "modal" and plain["close"]["text"] == "Close"
    assert "submit" not in plain
    assert buttons(plain) == {}

    token = RetryToken(token="tok-1", channel_id="C0GRANTS")
    retry = view_payload(build_status_view("Microsoft credential", ":x: no", retry=token))
    button = buttons(retry)[ActionId.RETRY_REGISTRATION]
    assert RetryToken.parse(button["value"]) == token
    assert "secret" not in button["value"]


@pytest.mark.parametrize(("provider", "title"), [("google", "Google"), ("microsoft", "Microsoft")])
def test_registering_view_names_the_credential_escaped(provider: str, title: str) -> None:
    payload = view_payload(build_registering_view(provider, HOSTILE))
    assert payload["title"]["text"] == f"{title} credential"
    assert "Registering" in shown(payload)
    assert_escaped(payload)


@pytest.mark.parametrize(("provider", "label"), [("google", "Google"), ("microsoft", "Microsoft")])
def test_no_connector_message_says_where_to_add_one(provider: str, label: str) -> None:
    text = build_no_connector_message(provider)
    assert f"no {label} connector" in text
    assert f"Connectors → {label}" in text and "POST /v3/connectors" in text


def test_registered_google_credential_points_to_grants() -> None:
    result = Registered(
        provider="google",
        name=HOSTILE,
        credential_id=NYLAS_ID,
        client_email="bulk@acme.iam.gserviceaccount.com",
        record_id=7,
    )
    payload = message_payload(build_registered_message(result))
    text = shown(payload)
    assert NYLAS_ID in text and "bulk@acme.iam.gserviceaccount.com" in text
    assert f"`{CommandName.BULKAUTH} grants &lt;!channel&gt;" in text
    assert list(buttons(payload)) == [ActionId.OPEN_GRANTS_MODAL]
    value = buttons(payload)[ActionId.OPEN_GRANTS_MODAL]["value"]
    assert CredentialRef.parse(value).credential_id == 7
    assert_escaped(payload, expected=2)


@pytest.mark.parametrize(
    ("tenant", "explains"),
    [
        ("common", "works for any organisation"),
        ("COMMON", "works for any organisation"),
        ("contoso.com", "only that organisation can consent"),
    ],
)
def test_registered_microsoft_credential_points_to_consent(tenant: str, explains: str) -> None:
    result = Registered(
        provider="microsoft", name="contoso", credential_id=NYLAS_ID, tenant=tenant, record_id=3
    )
    payload = message_payload(build_registered_message(result))
    text = shown(payload)
    assert f"Tenant: `{tenant}`" in text and explains in text
    assert f"`{CommandName.BULKAUTH} consent contoso`" in text
    assert list(buttons(payload)) == [ActionId.OPEN_CONSENT_MODAL]
    value = buttons(payload)[ActionId.OPEN_CONSENT_MODAL]["value"]
    assert CredentialRef.parse(value).credential_id == 3


def test_registered_message_without_a_stored_record_has_no_button() -> None:
    result = Registered(provider="microsoft", name=HOSTILE, credential_id=NYLAS_ID, tenant=HOSTILE)
    payload = message_payload(build_registered_message(result))
    assert buttons(payload) == {}
    assert_escaped(payload, expected=3)  # the name (twice) and the tenant


def _line(index: int, **changes: object) -> CredentialLine:
    values: dict[str, object] = {
        "provider": "microsoft",
        "name": f"customer-{index}.com",
        "credential_id": f"{index:08d}-1234-abcd-1234-1234567890ab",
        "created": datetime(2026, 1, 1, tzinfo=UTC),
        "registered_by": "U0ADA",
        "consent": "consented",
    }
    values.update(changes)
    return CredentialLine(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("provider", "scope"), [(None, "No credentials"), ("google", "No Google")])
def test_empty_credentials_list_says_how_to_add_one(provider: str | None, scope: str) -> None:
    payload = message_payload(build_credentials_list([], provider=provider))
    text = payload["text"]
    assert text.startswith(scope)
    assert f"`{CommandName.BULKAUTH} credential google`" in text
    assert f"`{CommandName.BULKAUTH} credential microsoft`" in text
    assert "{0}" not in text


def test_credentials_list_shows_each_credential_escaped_with_who_and_consent() -> None:
    entries = [
        _line(1, name=HOSTILE),
        _line(2, provider="google", registered_by=None, consent=None, created=None),
    ]
    payload = message_payload(build_credentials_list(entries, provider=None))
    assert section_texts(payload)[0] == "*2 credentials*, newest first"
    first, second = section_texts(payload)[1].split("\n")
    assert "· Microsoft ·" in first and "registered by <@U0ADA> on 2026-01-01" in first
    assert first.endswith("· consent: consented")
    assert "· Google ·" in second and "(not registered here)" in second
    assert " on " not in second and "consent" not in second
    assert_escaped(payload, expected=2)  # in the section and in the fallback text


def test_credentials_list_of_one_provider_lists_every_one_in_order() -> None:
    entries = [_line(index, provider="google", consent=None) for index in range(25)]
    payload = message_payload(build_credentials_list(entries, provider="google"))
    sections = section_texts(payload)
    assert sections[0] == "*25 Google credentials*, newest first"
    lines = "\n".join(sections[1:]).split("\n")
    assert len(lines) == 25 and "customer-0.com" in lines[0] and "customer-24.com" in lines[-1]
    single = message_payload(build_credentials_list(entries[:1], provider="google"))
    assert section_texts(single)[0] == "*1 Google credential*, newest first"


def test_credentials_list_of_long_names_fits_slack_sections() -> None:
    name = "Research & Development & Operations & "
    name = (name * 4)[:MAX_NAME_LENGTH]
    entries = [_line(index, name=f"{index:02d} {name}"[:MAX_NAME_LENGTH]) for index in range(12)]
    message_payload(build_credentials_list(entries, provider="microsoft"))


def test_credentials_list_accounts_for_every_credential() -> None:
    entries = [_line(index, provider="google", consent=None) for index in range(600)]
    payload = message_payload(build_credentials_list(entries, provider="google"))
    text = "\n".join(section_texts(payload)[1:])
    listed = text.count("· Google ·")
    assert listed == 600 or f"…and {600 - listed:,} more" in text
