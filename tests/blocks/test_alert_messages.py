"""The grant alert message and its likely cause, as plain functions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from bot.alerts.causes import UNKNOWN_CREDENTIAL, likely_cause
from bot.alerts.messages import alert_message, headline
from tests.block_kit import buttons
from tests.blocks.payloads import HOSTILE, HOSTILE_ESCAPED, message_payload

START = datetime(2026, 11, 30, 14, 3, tzinfo=UTC)
TODAY = date(2026, 11, 30)


def test_the_headline_counts_like_a_person_would_say_it() -> None:
    assert headline("acme.com", 312, 0) == "312 grants of acme.com expired"
    assert headline("acme.com", 1, 0) == "1 grant of acme.com expired"
    assert headline("acme.com", 0, 1) == "1 grant of acme.com was deleted"
    assert headline("acme.com", 2500, 3) == "2,500 grants of acme.com expired and 3 were deleted"


def test_the_message_has_the_cause_the_window_and_three_buttons_mute_confirmed() -> None:
    payload = message_payload(
        alert_message(
            alert_id=7,
            credential_name="acme.com",
            expired=312,
            deleted=0,
            window_start=START,
            window_seconds=60,
            cause="the credential's client secret expired on 2026-11-20",
        )
    )
    text = json.dumps(payload["blocks"])
    assert "312 grants of acme.com expired" in text
    assert "in the minute from <!date^" in text
    assert "client secret expired on 2026-11-20" in text
    shown = buttons(payload["blocks"])
    assert list(shown) == ["Re-authenticate these", "Show list", "Mute for a day"]
    assert shown["Mute for a day"].get("confirm")
    assert all('"alert_id":7' in b["value"].replace(" ", "") for b in shown.values())


def test_a_muted_alert_says_until_when_and_by_whom() -> None:
    payload = message_payload(
        alert_message(
            alert_id=7,
            credential_name="acme.com",
            expired=3,
            deleted=0,
            window_start=START,
            window_seconds=120,
            cause="x",
            muted_until=datetime(2026, 12, 1, 14, 3, tzinfo=UTC),
            muted_by="U0ANN",
        )
    )
    text = json.dumps(payload["blocks"])
    assert "muted until <!date^1796133780^" in text and "by <@U0ANN>" in text
    assert "in the 2 minutes from" in text


def test_a_hostile_credential_name_is_escaped() -> None:
    payload = message_payload(
        alert_message(
            alert_id=1,
            credential_name=HOSTILE,
            expired=1,
            deleted=0,
            window_start=START,
            window_seconds=60,
            cause="x",
        )
    )
    assert HOSTILE not in json.dumps(payload)
    assert HOSTILE_ESCAPED in payload["text"]


def test_likely_causes_come_from_what_the_bot_knows() -> None:
    def cause(**known: object) -> str:
        facts: dict[str, object] = {
            "provider": "microsoft",
            "known": True,
            "secret_expires_on": None,
            "expired": 5,
            "deleted": 0,
            "today": TODAY,
        }
        return likely_cause(**{**facts, **known})  # type: ignore[arg-type]

    expired_secret = cause(secret_expires_on=date(2026, 11, 20))
    assert expired_secret == "the credential's client secret expired on 2026-11-20"
    assert "revoked consent" in cause(secret_expires_on=date(2027, 1, 1))
    assert "domain-wide delegation" in cause(provider="google")
    assert cause(known=False) == UNKNOWN_CREDENTIAL
    assert "deleted at Nylas" in cause(expired=1, deleted=4)
