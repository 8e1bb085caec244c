"""The approval policy's rules as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.runs.policy import ApprovalRules, approvals_line
from storage.models import RequestKind

CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_one_approval_up_to_the_size_limit_and_two_above() -> None:
    rules = ApprovalRules(two_above_users=1000)
    assert rules.approvals_needed(RequestKind.GRANT, 1000) == 1
    assert rules.approvals_needed(RequestKind.GRANT, 1001) == 2


def test_destructive_kinds_need_two_unless_switched_off() -> None:
    assert ApprovalRules().approvals_needed(RequestKind.REVOKE, 1) == 2
    assert ApprovalRules().approvals_needed(RequestKind.DELETE_CREDENTIAL, 1) == 2
    assert ApprovalRules(two_for_destructive=False).approvals_needed(RequestKind.REVOKE, 1) == 1
    assert ApprovalRules().approvals_needed(RequestKind.REAUTHENTICATE, 1) == 1


def test_a_configured_number_above_two_always_applies() -> None:
    assert ApprovalRules(approvals_required=3).approvals_needed(RequestKind.GRANT, 1) == 3


def test_one_reminder_before_expiry_and_none_after() -> None:
    rules = ApprovalRules(ttl_hours=24, remind_hours=4)
    assert rules.remind_at(CREATED) == CREATED + timedelta(hours=4)
    assert rules.expires_at(CREATED) == CREATED + timedelta(hours=24)
    assert ApprovalRules(ttl_hours=2, remind_hours=4).remind_at(CREATED) is None


def test_the_approvals_line_names_who_approved() -> None:
    assert approvals_line(["Ann"], 2) == "1 of 2 approvals (Ann)"
    assert approvals_line([], 1) == "0 of 1 approval"
