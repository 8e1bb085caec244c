"""The Microsoft admin-consent modal, the link message and the replies in its thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.metadata import ConsentRef, CredentialRef, ModalOrigin
from bot.consent.links import parse_scopes
from bot.consent.messages import (
    MAX_OPTIONS,
    build_consent_failed_reply,
    build_consent_granted_reply,
    build_consent_link_message,
    build_consent_modal,
    build_consent_outcome_line,
    build_consent_reminder,
    build_no_consent_credentials_message,
)
from bot.ids import ActionId, BlockId, CallbackId, CommandName
from bot.nylas.consent import admin_consent_url
from storage.models import CredentialRecord
from tests.blocks.payloads import (
    HOSTILE,
    HOSTILE_ESCAPED,
    assert_escaped,
    buttons,
    inputs,
    message_payload,
    shown,
    view_payload,
)

NOW = datetime(2026, 3, 2, 14, 3, tzinfo=UTC)
URL = "https://api.us.nylas.com/v3/connect/auth?provider=microsoft&state=abc"
ORIGIN = ModalOrigin(channel_id="C0CONSENT")


def credential(index: int = 1, *, name: str = "contoso", tenant: str | None = "contoso.com"):
    return CredentialRecord(
        id=index,
        nylas_credential_id=f"{index:08d}-1234-abcd-1234-1234567890ab",
        provider="microsoft",
        credential_type="adminconsent",
        name=name,
        tenant=tenant,
        registered_by="U0ADA",
        registered_by_name="ada",
    )


def _select(payload: dict[str, object]) -> dict[str, object]:
    return inputs(payload)[BlockId.CONSENT_CREDENTIAL]["element"]  # type: ignore[no-any-return]


def test_modal_for_a_specific_tenant_offers_a_scope_override() -> None:
    chosen = credential(2, tenant="contoso.com")
    payload = view_payload(build_consent_modal([credential(1), chosen], chosen, ORIGIN))
    assert payload["callback_id"] == CallbackId.CONSENT_LINK
    assert ModalOrigin.load(payload["private_metadata"]) == ORIGIN
    select = _select(payload)
    assert select["action_id"] == ActionId.CONSENT_CREDENTIAL_CHOSEN
    assert inputs(payload)[BlockId.CONSENT_CREDENTIAL]["dispatch_action"] is True
    assert select["initial_option"]["value"] == "2"
    assert [o["text"]["text"] for o in select["options"]] == ["contoso (contoso.com)"] * 2
    scopes = inputs(payload)[BlockId.CONSENT_SCOPES]
    assert scopes["optional"] is True and scopes["element"]["action_id"] == ActionId.INPUT


@pytest.mark.parametrize("tenant", ["common", "Common", None])
def test_modal_for_common_says_scopes_come_from_the_app(tenant: str | None) -> None:
    chosen = credential(tenant=tenant)
    payload = view_payload(build_consent_modal([chosen], chosen, ORIGIN))
    assert BlockId.CONSENT_SCOPES not in inputs(payload)
    assert "cannot be overridden" in shown(payload)
    assert _select(payload)["options"][0]["text"]["text"].endswith(f"({tenant or 'common'})")


def test_modal_before_a_choice_has_neither_scopes_nor_initial_option() -> None:
    payload = view_payload(build_consent_modal([credential()], None, ModalOrigin()))
    assert list(inputs(payload)) == [BlockId.CONSENT_CREDENTIAL]
    assert "initial_option" not in _select(payload)
    assert "cannot be overridden" not in shown(payload)


def test_modal_options_fit_slack_limits() -> None:
    many = [credential(index, name="n" * 120) for index in range(1, 151)]
    payload = view_payload(build_consent_modal(many, many[0], ORIGIN))
    options = _select(payload)["options"]
    assert len(options) == MAX_OPTIONS
    assert all(len(option["text"]["text"]) <= 75 for option in options)


def test_modal_selected_credential_is_always_an_option() -> None:
    many = [credential(index) for index in range(1, 121)]
    payload = view_payload(build_consent_modal(many, many[-1], ORIGIN))
    select = _select(payload)
    assert select["initial_option"] in select["options"]


def test_no_credentials_message_says_how_to_register_one() -> None:
    payload = message_payload(build_no_consent_credentials_message())
    assert f"`{CommandName.BULKAUTH} credential microsoft`" in payload["text"]


def _link(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "credential": credential(),
        "requested_by": "U0ADA",
        "url": URL,
        "expires_at": NOW + timedelta(hours=1),
        "consent_id": 42,
        "callback_reachable": True,
    }
    values.update(changes)
    return message_payload(build_consent_link_message(**values))  # type: ignore[arg-type]


def test_link_message_with_a_reachable_callback() -> None:
    payload = _link()
    text = shown(payload)
    assert "tenant `contoso.com` only" in text and "asked by <@U0ADA>" in text
    assert f"```{URL}```" in text and f"<{URL}" not in text  # the link once, as text
    assert f"<!date^{int((NOW + timedelta(hours=1)).timestamp())}^" in text  # expiry, reader's tz
    assert "PUBLIC_BASE_URL" not in text
    found = buttons(payload)
    assert list(found) == [ActionId.OPEN_URL, ActionId.CONSENT_GRANTED_MANUALLY]
    assert found[ActionId.OPEN_URL]["url"] == URL
    assert ConsentRef.parse(found[ActionId.CONSENT_GRANTED_MANUALLY]["value"]).consent_id == 42


def test_link_message_without_a_reachable_callback_says_to_press_the_button() -> None:
    payload = _link(credential=credential(tenant="common"), callback_reachable=False)
    text = shown(payload)
    assert "scopes from the Azure app" in text
    assert "PUBLIC_BASE_URL is not set" in text and "*Consent was granted*" in text
    assert ActionId.CONSENT_GRANTED_MANUALLY in buttons(payload)


def test_link_message_with_an_outcome_replaces_the_buttons() -> None:
    line = build_consent_outcome_line(granted=True, by="admin@contoso.com", at=NOW)
    payload = _link(outcome=line, callback_reachable=False)
    assert buttons(payload) == {}
    assert payload["blocks"][-1]["text"]["text"] == line


def test_link_message_escapes_the_name_and_tenant() -> None:
    payload = _link(credential=credential(name=HOSTILE, tenant=HOSTILE))
    assert payload["text"] == f"Admin consent link for {HOSTILE_ESCAPED}"
    assert_escaped(payload, expected=3)  # name, tenant, fallback


def test_link_message_with_the_longest_scope_override_fits_slack() -> None:
    typed = "\n".join(["https://graph.microsoft.com/Mail.Read"] * 60)[:2000]
    scopes = parse_scopes(typed[: typed.rfind("\n")], tenant="contoso.com")
    url = admin_consent_url(
        api_uri="https://api.us.nylas.com",
        client_id="2f70abcd-1234-abcd-1234-1234567890ab",
        redirect_uri="https://bulkauth.example.com/nylas/callback",
        credential_id="00000001-1234-abcd-1234-1234567890ab",
        state="s" * 43,
        tenant="contoso.com",
        scopes=scopes,
    )
    _link(url=url)


def test_granted_reply_says_when_grants_can_start() -> None:
    ready = NOW + timedelta(minutes=5)
    payload = message_payload(
        build_consent_granted_reply(
            credential=credential(name=HOSTILE),
            consented_by=HOSTILE,
            consented_at=NOW,
            ready_at=ready,
        )
    )
    text = shown(payload)
    assert text.startswith(":white_check_mark: Admin consent for")
    assert f"<!date^{int(ready.timestamp())}^{{time}}|14:08 UTC>" in text
    assert_escaped(payload, expected=4)  # name and admin, in the section and the fallback


def test_failed_reply_quotes_the_error_escaped_and_says_how_to_retry() -> None:
    payload = message_payload(
        build_consent_failed_reply(
            credential=credential(name="contoso"), error=f"access_denied: {HOSTILE}"
        )
    )
    text = payload["text"]
    assert text.startswith(":x: Admin consent for *contoso* failed: access_denied: &lt;!channel")
    assert f"`{CommandName.BULKAUTH} consent contoso`" in text
    assert_escaped(payload, expected=2)


def test_failed_reply_with_the_longest_callback_error_fits_slack() -> None:
    # the callback keeps at most 500 characters of Microsoft's error (handlers/callback.py)
    error = ("error_description: AADSTS65004 User declined to consent. " * 10)[:500]
    message_payload(build_consent_failed_reply(credential=credential(name="c" * 120), error=error))


def test_outcome_lines() -> None:
    granted = build_consent_outcome_line(granted=True, by=HOSTILE, at=NOW)
    assert granted.startswith(":white_check_mark: Consent recorded (&lt;!channel&gt;")
    assert "|14:03 UTC>" in granted
    failed = build_consent_outcome_line(granted=False, by=HOSTILE, at=NOW)
    assert failed.startswith(":x: Consent failed (") and "&lt;" not in failed


def test_reminder_mentions_the_requester_and_opens_the_grants_modal() -> None:
    payload = message_payload(
        build_consent_reminder(credential=credential(5, name=HOSTILE), requested_by="U0ADA")
    )
    assert payload["text"].startswith("<@U0ADA> the propagation wait for")
    assert f"`{CommandName.BULKAUTH} grants &lt;!channel&gt;" in payload["text"]
    assert list(buttons(payload)) == [ActionId.OPEN_GRANTS_MODAL]
    value = buttons(payload)[ActionId.OPEN_GRANTS_MODAL]["value"]
    assert CredentialRef.parse(value).credential_id == 5
    assert_escaped(payload, expected=4)
