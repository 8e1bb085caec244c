"""What the run pass decides for one user, as plain functions: the status an answer gives, when
a failure is retried, which grant an earlier attempt made, and the audit event of it all."""

from __future__ import annotations

import pytest

from bot.nylas.errors import (
    NylasApiError,
    NylasAuthError,
    NylasOddSuccess,
    NylasServerError,
    NylasTransportError,
)
from bot.nylas.models import Grant
from bot.runs.execution.outcomes import (
    MAX_REQUEST_ID,
    UNEXPECTED,
    RunContext,
    audit_event,
    found_earlier,
    granted,
    made_earlier,
    not_granted,
)
from storage.audit import Actor, AuditAction
from storage.models import BulkRun, ItemStatus
from storage.runs import ClaimedItem

NEW = ClaimedItem(id=1, email="new@acme.com", attempts=1)
KNOWN = ClaimedItem(id=2, email="known@acme.com", attempts=1, known_grant_id="g-known")
CONTEXT = RunContext(
    run=BulkRun(id=9, credential_id=3, provider="google", requested_by="U1", requested_by_name="A"),
    run_id=9,
    credential_id="cred-abc",
    provider="google",
    scopes=["https://www.googleapis.com/auth/calendar"],
    requester=Actor("U1", "Ann"),
    approver=Actor("U2", "Bob"),
)


def test_a_grant_for_a_new_user_is_created() -> None:
    outcome = granted(NEW, "g-new", "req-1")
    assert (outcome.status, outcome.grant_id, outcome.request_id) == (
        ItemStatus.CREATED,
        "g-new",
        "req-1",
    )


def test_a_user_with_a_grant_at_planning_time_is_re_authenticated() -> None:
    outcome = granted(KNOWN, "g-known", None)  # Nylas keeps the grant id on re-authentication
    assert (outcome.status, outcome.grant_id) == (ItemStatus.REAUTHENTICATED, "g-known")


def test_an_overlong_request_id_is_cut_to_fit_its_column() -> None:
    assert granted(NEW, "g", "r" * 500).request_id == "r" * MAX_REQUEST_ID


def test_a_permanent_failure_fails_the_user_with_nylas_s_reason() -> None:
    error = NylasAuthError(status=403, message="domain-wide delegation missing", request_id="q")
    outcome = not_granted(NEW, error, max_attempts=5)
    assert (outcome.status, outcome.error, outcome.request_id) == (
        ItemStatus.FAILED,
        "domain-wide delegation missing",
        "q",
    )


@pytest.mark.parametrize(
    "error",
    [NylasServerError(status=503, message="busy"), NylasTransportError("connection reset")],
)
def test_a_transient_failure_is_retried_while_attempts_are_left(error: Exception) -> None:
    retried = not_granted(ClaimedItem(id=1, email="a@acme.com", attempts=4), error, max_attempts=5)
    assert retried.status is None  # handed back: another attempt later
    exhausted = not_granted(
        ClaimedItem(id=1, email="a@acme.com", attempts=5), error, max_attempts=5
    )
    assert exhausted.status == ItemStatus.FAILED
    assert exhausted.error


def test_an_odd_success_fails_the_user_without_a_retry() -> None:
    odd = NylasOddSuccess(status=200, message="Nylas answered 200 without a grant", request_id="r")
    outcome = not_granted(NEW, odd, max_attempts=5)
    assert (outcome.status, outcome.request_id) == (ItemStatus.FAILED, "r")
    assert outcome.error == "Nylas answered 200 without a grant"


def test_an_unexpected_error_fails_the_user_and_shows_nothing_of_it() -> None:
    outcome = not_granted(NEW, KeyError("xoxb-secret-in-a-message"), max_attempts=5)
    assert (outcome.status, outcome.error) == (ItemStatus.FAILED, UNEXPECTED)


def test_a_long_reason_is_cut() -> None:
    outcome = not_granted(NEW, NylasApiError(status=400, message="x" * 2000), max_attempts=5)
    assert outcome.error is not None and len(outcome.error) == 500


def grant(grant_id: str, **fields: object) -> Grant:
    values = {
        "provider": "google",
        "credential_id": "cred-abc",
        "grant_status": "valid",
        "updated_at": 2_000,
        **fields,
    }
    return Grant.model_validate({"id": grant_id, "email": "a@acme.com", **values})


def test_the_grant_an_earlier_attempt_made_is_valid_of_this_credential_and_recent() -> None:
    candidates = [
        grant("g-old", updated_at=999),
        grant("g-other-credential", credential_id="cred-zzz"),
        grant("g-microsoft", provider="microsoft"),
        grant("g-invalid", grant_status="invalid"),
        grant("g-ours"),
    ]
    assert made_earlier(candidates, CONTEXT, since=1_000) == candidates[-1]
    assert made_earlier(candidates[:-1], CONTEXT, since=1_000) is None


def test_a_grant_found_at_nylas_counts_as_created_and_says_so_in_the_audit_log() -> None:
    outcome = found_earlier(NEW, grant("g-found"))
    event = audit_event(outcome, CONTEXT)
    assert (outcome.status, outcome.grant_id) == (ItemStatus.CREATED, "g-found")
    assert event.action == AuditAction.GRANT_CREATED
    assert (event.details or {}).get("found_at_nylas") is True


def test_the_audit_event_names_the_user_the_grant_the_run_and_who_asked() -> None:
    failed = not_granted(NEW, NylasAuthError(status=403, message="no"), max_attempts=5)
    event = audit_event(failed, CONTEXT)
    assert (event.action, event.outcome) == (AuditAction.GRANT_FAILED, "failed")
    assert (event.subject.email, event.subject.run_id) == ("new@acme.com", 9)
    assert event.subject.credential_id == "cred-abc"
    assert event.details == {
        "requested_by": "U1",
        "approved_by": "U2",
        "attempts": 1,
        "error": "no",
        "problem": "nylas_plan",  # the table's code: a 403 is a feature missing from the plan
    }
    created = audit_event(granted(KNOWN, "g-known", "req"), CONTEXT)
    assert (created.action, created.outcome, created.request_id) == (
        AuditAction.GRANT_REAUTHENTICATED,
        "ok",
        "req",
    )
    assert created.subject.grant_id == "g-known"
