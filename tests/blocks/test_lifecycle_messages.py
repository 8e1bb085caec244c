"""Credential lifecycle builders and thresholds as plain functions: the rotation modals, the
outcome, the expiry reminder with its Rotate now button, and when each threshold falls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.blocks.metadata import CredentialRef, RotationOrigin
from bot.ids import ActionId, BlockId, CallbackId
from bot.lifecycle.messages import (
    Rotated,
    build_expiry_reminder,
    build_google_rotation_modal,
    build_microsoft_rotation_modal,
    build_rotated_message,
)
from bot.lifecycle.thresholds import owed, thresholds, upcoming
from storage.models import CredentialRecord
from tests.blocks.payloads import (
    HOSTILE,
    assert_escaped,
    buttons,
    inputs,
    message_payload,
    shown,
    view_payload,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ORIGIN = RotationOrigin(credential_id=7, channel_id="C0OPS")


def microsoft(**values: object) -> CredentialRecord:
    fields: dict[str, object] = {
        "id": 7,
        "nylas_credential_id": "cred-1",
        "provider": "microsoft",
        "credential_type": "adminconsent",
        "name": "contoso.com",
        "tenant": "contoso.com",
        "client_id": "2f70abcd-1234-abcd-1234-abcd0316be16",
        "secret_expires_on": date(2027, 3, 31),
        "registered_by": "U0ADMIN",
        "registered_by_name": "Ada",
        "registered_at": NOW - timedelta(days=300),
    }
    fields.update(values)
    return CredentialRecord.model_validate(fields)


def google(**values: object) -> CredentialRecord:
    fields: dict[str, object] = {
        "provider": "google",
        "credential_type": "serviceaccount",
        "name": "acme.com",
        "tenant": None,
        "secret_expires_on": None,
        "client_email": "bulk@acme.iam.gserviceaccount.com",
        "private_key_id": "abc123",
    }
    fields.update(values)
    return microsoft(**fields)


def test_microsoft_thresholds_are_30_7_1_and_0_days_before_midnight_utc_of_expiry() -> None:
    found = thresholds(microsoft(), key_max_age_days=90)
    assert [t.at for t in found] == [
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2027, 3, 24, tzinfo=UTC),
        datetime(2027, 3, 30, tzinfo=UTC),
        datetime(2027, 3, 31, tzinfo=UTC),
    ]
    assert [t.key for t in found][1] == "secret:2027-03-31T00:00:7d"
    assert owed(found, NOW) == found[0] and upcoming(found, NOW) == found[1]
    late = NOW + timedelta(days=29)  # down through the 7- and 1-day thresholds
    assert owed(found, late) == found[2]


def test_google_key_age_counts_from_when_it_was_set_else_registration() -> None:
    set_at = NOW - timedelta(days=10)
    [first, *_rest] = thresholds(google(secret_set_at=set_at), key_max_age_days=90)
    assert first.at == set_at + timedelta(days=60) and first.kind == "key"
    [legacy, *_rest] = thresholds(google(), key_max_age_days=90)
    assert legacy.due == NOW - timedelta(days=300) + timedelta(days=90)


def test_nothing_to_remind_without_an_expiry_or_with_the_connector_app() -> None:
    assert thresholds(microsoft(secret_expires_on=None), key_max_age_days=90) == []
    assert thresholds(microsoft(uses_connector_app=True), key_max_age_days=90) == []


def test_a_credential_deleted_at_nylas_is_never_reminded() -> None:
    assert thresholds(microsoft(deleted_at=NOW), key_max_age_days=90) == []
    assert thresholds(google(deleted_at=NOW), key_max_age_days=90) == []


def test_the_reminder_says_when_and_offers_rotate_now_for_that_credential() -> None:
    record = microsoft(name=HOSTILE)
    [thirty, *_rest] = thresholds(record, key_max_age_days=90)
    payload = message_payload(build_expiry_reminder(record, thirty, now=NOW, key_max_age_days=90))
    assert "expires in 30 days (on 2027-03-31)" in shown(payload)
    assert_escaped(payload)
    button = buttons(payload)[ActionId.ROTATE_CREDENTIAL]
    assert CredentialRef.parse(button["value"]).credential_id == 7
    expired = thresholds(record, key_max_age_days=90)[-1]
    text = shown(
        message_payload(
            build_expiry_reminder(record, expired, now=NOW + timedelta(33), key_max_age_days=90)
        )
    )
    assert "expired 3 days ago (2027-03-31)" in text


def test_the_google_reminder_names_the_service_account_and_the_age() -> None:
    record = google(secret_set_at=NOW - timedelta(days=90))
    due = thresholds(record, key_max_age_days=90)[-1]
    text = shown(message_payload(build_expiry_reminder(record, due, now=NOW, key_max_age_days=90)))
    assert "bulk@acme.iam.gserviceaccount.com" in text and "90-day rotation age today" in text


def test_the_microsoft_modal_asks_for_tenant_and_client_id_only_when_unknown() -> None:
    known = view_payload(build_microsoft_rotation_modal(microsoft(), ORIGIN))
    assert known["callback_id"] == CallbackId.ROTATE_MICROSOFT
    assert set(inputs(known)) == {BlockId.CLIENT_SECRET, BlockId.SECRET_EXPIRES_ON}
    assert RotationOrigin.parse(known["private_metadata"]) == ORIGIN
    legacy = view_payload(
        build_microsoft_rotation_modal(microsoft(tenant=None, client_id=None), ORIGIN)
    )
    assert {BlockId.TENANT, BlockId.CLIENT_ID} <= set(inputs(legacy))


def test_the_google_modal_names_the_account_and_escapes_the_name() -> None:
    payload = view_payload(build_google_rotation_modal(google(name=HOSTILE), ORIGIN))
    assert {BlockId.KEY_FILE, BlockId.KEY_JSON} == set(inputs(payload))
    assert "bulk@acme.iam.gserviceaccount.com" in shown(payload)
    assert_escaped(payload)


def test_the_outcome_says_what_changed_and_how_to_reauthenticate() -> None:
    payload = message_payload(
        build_rotated_message(
            Rotated(record=microsoft(name=HOSTILE), change="new client secret", check="passed")
        )
    )
    assert "new client secret" in shown(payload) and "health" in shown(payload)
    assert_escaped(payload, expected=2)
