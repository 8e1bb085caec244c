"""Audit events as one line each, and the `/bulkauth audit` answer with its Export CSV button."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.audit.messages import ANSWER_EVENTS, actor_text, build_audit_answer, event_line
from bot.audit.query import AuditQuery
from bot.ids import ActionId
from storage.audit import AuditAction
from storage.models import AuditEvent
from tests.blocks.payloads import (
    HOSTILE,
    HOSTILE_ESCAPED,
    HOSTILE_PARTS,
    buttons,
    message_payload,
    section_texts,
    shown,
)

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NYLAS_ID = "00000001-1234-abcd-1234-1234567890ab"


def event(seq: int = 1, **changes: object) -> AuditEvent:
    values: dict[str, object] = {
        "seq": seq,
        "occurred_at": datetime(2026, 1, 15, 13, 3, tzinfo=UTC),
        "actor_id": "U0ADA",
        "actor_name": "ada",
        "action": AuditAction.GRANT_CREATED,
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }
    values.update(changes)
    return AuditEvent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actor_id", "name", "expected"),
    [
        ("U0ADA", "ada", "<@U0ADA>"),
        ("W0ENTERPRISE", "ent", "<@W0ENTERPRISE>"),
        ("cli:ada", "cli:ada", "`cli:ada`"),
        ("bulkauth", "bulkauth", "`bulkauth`"),
        ("u0lower", HOSTILE, f"`{HOSTILE_ESCAPED}`"),
    ],
)
def test_actor_text_mentions_slack_users_and_names_the_rest(
    actor_id: str, name: str, expected: str
) -> None:
    assert actor_text(actor_id, name) == expected


def test_event_line_reads_as_a_sentence_in_the_readers_zone() -> None:
    line = event_line(
        event(email="bob@acme.com", run_id=3, grant_id="g-1", credential_id=NYLAS_ID),
        PARIS,
        {NYLAS_ID: "acme"},
    )
    assert line == (
        "`2026-01-15 14:03 CET` · <@U0ADA> created a grant for `bob@acme.com` · run 3 · "
        "*acme* · grant `g-1`"
    )
    summer = event_line(event(occurred_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC)), PARIS, {})
    assert summer.startswith("`2026-07-01 14:00 CEST` · ")


def test_event_line_names_a_known_credential_else_shows_its_id() -> None:
    registered = event(action=AuditAction.CREDENTIAL_REGISTERED, credential_id=NYLAS_ID)
    assert "registered credential *acme*" in event_line(registered, UTC_ZONE, {NYLAS_ID: "acme"})
    assert f"registered credential `{NYLAS_ID}`" in event_line(registered, UTC_ZONE, {})
    long_name = event_line(registered, UTC_ZONE, {NYLAS_ID: "a" * 120})
    assert f"*{'a' * 39}…*" in long_name


def test_event_line_of_an_action_without_subject_keeps_the_subject_after_it() -> None:
    line = event_line(event(action=AuditAction.AUDIT_QUERIED, run_id=9), UTC_ZONE, {})
    assert line.endswith("<@U0ADA> searched the audit log · run 9")


def test_event_line_notes_outcome_approver_error_and_reason() -> None:
    details = {"approved_by": "U0BOSS", "error": "e" * 300, "reason": HOSTILE}
    line = event_line(
        event(
            action=AuditAction.GRANT_FAILED,
            outcome="failed",
            email="bob@acme.com",
            details=json.dumps(details),
        ),
        UTC_ZONE,
        {},
    )
    notes = line.split(" · ")[2:]
    assert notes[0] == "*failed*"
    assert notes[1] == "approved by <@U0BOSS>"
    assert notes[2] == "e" * 159 + "…"
    assert notes[3] == HOSTILE_ESCAPED


def test_event_line_escapes_everything_users_or_callers_wrote() -> None:
    line = event_line(
        event(
            action="custom.<!channel>",
            actor_id="cli:<!here>",
            actor_name="cli:<!here>",
            email=HOSTILE,
            grant_id=HOSTILE,
            credential_id=HOSTILE,
            outcome=HOSTILE,
            details=json.dumps({"approved_by": HOSTILE, "error": HOSTILE}),
        ),
        UTC_ZONE,
        {},
    )
    for part in HOSTILE_PARTS:
        assert part not in line
    assert line.count("&lt;!channel&gt;") == 7


@pytest.mark.parametrize("details", ["not json", "[1, 2]", '{"error": 3}', "{}"])
def test_event_line_ignores_details_it_cannot_read(details: str) -> None:
    line = event_line(event(details=details), UTC_ZONE, {})
    assert line == "`2026-01-15 13:03 UTC` · <@U0ADA> created a grant for"


def test_audit_answer_without_events() -> None:
    payload = message_payload(
        build_audit_answer(
            AuditQuery(email="bob@acme.com"), [], matching=0, tz=UTC_ZONE, credential_names={}
        )
    )
    assert payload["text"] == "No audit events match mailbox `bob@acme.com`."
    assert buttons(payload) == {}


def test_audit_answer_lists_events_and_exports_the_same_query() -> None:
    query = AuditQuery(credential_id=NYLAS_ID, credential_name=HOSTILE)
    events = [event(seq, credential_id=NYLAS_ID) for seq in range(ANSWER_EVENTS, 0, -1)]
    payload = message_payload(
        build_audit_answer(
            query, events, matching=1234, tz=PARIS, credential_names={NYLAS_ID: "acme"}
        )
    )
    sections = section_texts(payload)
    assert sections[0].startswith("*Audit log: credential ")
    assert f"{HOSTILE_ESCAPED}* (`{NYLAS_ID}`)" in sections[0]
    assert sections[0].endswith("newest first: 20 of 1,234 events (times in Europe/Paris)")
    assert len(sections) == 1 + ANSWER_EVENTS
    assert all(text.startswith("`2026-01-15 14:03 CET`") for text in sections[1:])
    export = buttons(payload)[ActionId.EXPORT_AUDIT]
    assert AuditQuery.parse(export["value"]) == query
    assert "all 1,234 matching events" in shown(payload)
    assert payload["text"] == "Audit log: 20 of 1234 events"
    for part in HOSTILE_PARTS:
        assert part not in shown(payload)


def test_audit_answer_of_one_event_is_singular() -> None:
    payload = message_payload(
        build_audit_answer(AuditQuery(), [event()], matching=1, tz=UTC_ZONE, credential_names={})
    )
    assert section_texts(payload)[0].endswith(
        "every event*, newest first: 1 of 1 event (times in UTC)"
    )


def test_audit_answer_of_the_longest_events_fits_slack() -> None:
    details = json.dumps({"approved_by": "U0BOSS", "error": "e" * 2000, "reason": "r" * 2000})
    events = [
        event(
            seq,
            actor_id="cli:" + "a" * 124,
            actor_name="cli:" + "a" * 251,
            action=AuditAction.GRANT_FAILED,
            outcome="o" * 32,
            email="b" * 64 + "@" + "c" * 250 + ".com",
            credential_id="i" * 64,
            grant_id="g" * 64,
            run_id=2**31 - 1,
            details=details,
        )
        for seq in range(ANSWER_EVENTS)
    ]
    names = {"i" * 64: "n" * 120}
    query = AuditQuery(email="b" * 64 + "@" + "c" * 250 + ".com")
    message_payload(
        build_audit_answer(query, events, matching=10**9, tz=PARIS, credential_names=names)
    )


def test_event_line_shows_the_plain_reason_of_an_error_the_table_knows() -> None:
    recorded = {"error": "invalid_grant: Invalid email or User ID", "problem": "mailbox_not_found"}
    unrecorded = {"error": "unauthorized_client: Client is unauthorized"}  # older events
    for details in (recorded, unrecorded):
        line = event_line(
            event(action=AuditAction.GRANT_FAILED, outcome="failed", details=json.dumps(details)),
            UTC_ZONE,
            {},
        )
        note = line.split(" · ")[-1]
        assert note.endswith(f"({details['error']})")
        assert note.startswith(("Google knows no such mailbox", "Google refused: domain-wide"))
