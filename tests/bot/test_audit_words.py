"""Audit events in words: every action has a label, and filters read as people type them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.audit.messages import ACTION_LABELS
from bot.audit.query import AuditQuery, parse_audit_filter
from bot.blocks.times import local_time, zone
from bot.errors import UserInputError
from storage.audit import AuditAction


def test_every_audit_action_reads_as_words() -> None:
    assert set(AuditAction) <= set(ACTION_LABELS)


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("", AuditQuery()),
        ("  Ann@Acme.COM ", AuditQuery(email="ann@acme.com")),
        ("<mailto:ann@acme.com|ann@acme.com>", AuditQuery(email="ann@acme.com")),
        ("<@U0ANN|ann>", AuditQuery(actor_id="U0ANN")),
        ("<@W0ANN>", AuditQuery(actor_id="W0ANN")),
        ("U0ANN123", AuditQuery(actor_id="U0ANN123")),
        ("cli:ops", AuditQuery(actor_id="cli:ops")),
        ("42", AuditQuery(run_id=42)),
        ("#42", AuditQuery(run_id=42)),
        ("run 42", AuditQuery(run_id=42)),
        ("Run-42", AuditQuery(run_id=42)),
        ("acme.com", "acme.com"),  # looked up as a credential name or id
        ("Contoso Ltd", "Contoso Ltd"),
    ],
)
def test_a_filter_is_read_the_way_it_was_typed(typed: str, query: AuditQuery | str) -> None:
    assert parse_audit_filter(typed) == query


@pytest.mark.parametrize("typed", ["bob@", "@acme.com", "<#C0OPS|ops>", "<!here>"])
def test_a_filter_that_cannot_mean_anything_is_refused(typed: str) -> None:
    with pytest.raises(UserInputError):
        parse_audit_filter(typed)


def test_a_time_zone_slack_reports_is_used_and_an_unknown_one_falls_back_to_utc() -> None:
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert local_time(moment, zone("America/New_York")) == "2026-07-01 08:00 EDT"
    assert local_time(moment, zone("Mars/Olympus_Mons")) == "2026-07-01 12:00 UTC"
    assert local_time(moment, zone("")) == "2026-07-01 12:00 UTC"
