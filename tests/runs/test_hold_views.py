"""The held run's message and the propagation note, as plain functions."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bot.ids import ActionId
from bot.runs.holds import build_held, propagation_note
from storage.models import BulkRun, RunStatus
from tests.block_kit import buttons, checked_message, texts

SCOPE = "https://www.googleapis.com/auth/gmail.readonly"


def held_run(reason: str, count: int = 1) -> BulkRun:
    return BulkRun(
        id=7,
        credential_id=1,
        provider="google",
        scopes=SCOPE,
        status=RunStatus.HELD,
        requested_by="U0ADA",
        requested_by_name="Ada",
        total=10_000,
        hold_reason=reason,
        hold_count=count,
    )


def test_a_held_run_says_why_with_the_fix_the_link_and_resume_and_cancel() -> None:
    message = build_held(
        held_run("delegation_missing"), Counter(failed=1, pending=9999), google_client_id="1047"
    )
    blocks = checked_message(message)
    text = texts(blocks)
    assert "Run 7 is held" in text and "1 user failed" in text
    assert "domain-wide delegation is missing" in text
    assert f"clientIdToAdd=1047&clientScopeToAdd={SCOPE}&overwriteClientId=true" in text
    found = buttons(blocks)
    assert found["Resume"]["action_id"] == ActionId.RESUME_RUN
    assert found["Resume"]["confirm"]["confirm"]["text"] == "Resume"  # Slack asks first
    assert found["Cancel"]["action_id"] == ActionId.CANCEL_RUN and "confirm" in found["Cancel"]


def test_a_hold_for_an_error_the_table_does_not_know_shows_it_escaped() -> None:
    blocks = checked_message(build_held(held_run("<b>boom</b> & co", 20), Counter(failed=20)))
    text = texts(blocks)
    assert "20 users failed" in text and "&lt;b&gt;boom&lt;/b&gt; &amp; co" in text
    assert "clientIdToAdd" not in text


def test_the_propagation_note_names_when_the_wait_ends() -> None:
    until = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    blocks = checked_message(propagation_note(held_run("x"), until=until))
    assert "not propagated yet" in texts(blocks) and "<!date^" in texts(blocks)
