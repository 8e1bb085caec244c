"""What one user's call came to, decided without I/O: the item's status, whether to retry, the
grant an earlier attempt made, and the audit event of the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from bot.nylas.errors import NylasApiError, NylasError
from bot.nylas.models import Grant, Provider
from bot.nylas.problems import Problem, explain
from storage.audit import Actor, AuditAction, EventSpec, Subject
from storage.models import BulkRun, ItemStatus, RequestKind
from storage.runs import ClaimedItem, HandBack

MAX_ERROR = 500
MAX_REQUEST_ID = 128  # RunItem.request_id and AuditEvent.request_id
UNEXPECTED = "unexpected error (see the bot's log)"
_OUTCOME_ACTIONS = {
    ItemStatus.CREATED: AuditAction.GRANT_CREATED,
    ItemStatus.REAUTHENTICATED: AuditAction.GRANT_REAUTHENTICATED,
    ItemStatus.FAILED: AuditAction.GRANT_FAILED,
    ItemStatus.REVOKED: AuditAction.GRANT_REVOKED,
}
ALREADY_REVOKED = "already revoked: Nylas no longer had this grant"


@dataclass(frozen=True)
class RunContext:
    run: BulkRun
    run_id: int
    credential_id: str  # "": a revocation across every credential
    provider: Provider
    scopes: list[str]
    requester: Actor
    approver: Actor | None


@dataclass(frozen=True)
class Outcome:
    item: ClaimedItem
    status: ItemStatus | None  # None: hand the item back (not sent, or to be retried)
    grant_id: str | None = None
    error: str | None = None
    request_id: str | None = None
    found_at_nylas: bool = False  # an earlier, unrecorded attempt had made the grant
    problem: Problem | None = None  # what the table makes of the error, when it knows it
    hand_back: HandBack = HandBack.SENT  # with status None: what its attempts still count

    @property
    def failure_key(self) -> str | None:
        """What the circuit breaker counts and a hold names: the problem's code, else the raw
        error (None: not a failure)."""
        if self.status != ItemStatus.FAILED:
            return None
        return self.problem.code if self.problem else (self.error or "unknown")


def fit_request_id(request_id: str | None) -> str | None:
    """Request ids are opaque to us; one longer than the column must not stop the recorder."""
    return request_id[:MAX_REQUEST_ID] if request_id else None


def granted(item: ClaimedItem, grant_id: str, request_id: str | None) -> Outcome:
    """Nylas answered with a grant: a user who had one at planning time is re-authenticated."""
    status = ItemStatus.REAUTHENTICATED if item.known_grant_id else ItemStatus.CREATED
    return Outcome(item, status, grant_id=grant_id, request_id=fit_request_id(request_id))


def revoked(item: ClaimedItem, request_id: str | None, *, already_gone: bool = False) -> Outcome:
    """The user's grant is gone: deleted now, or (404) before this call, by an earlier attempt
    whose answer was lost or by someone else: either way nothing is left to do."""
    return Outcome(
        item,
        ItemStatus.REVOKED,
        grant_id=item.known_grant_id,
        error=ALREADY_REVOKED if already_gone else None,
        request_id=fit_request_id(request_id),
    )


def unsent(item: ClaimedItem) -> Outcome:
    """Handed back without a call (its run stopped): this claim was no attempt."""
    return Outcome(item, None, hand_back=HandBack.UNSENT)


def found_earlier(item: ClaimedItem, grant: Grant) -> Outcome:
    status = ItemStatus.REAUTHENTICATED if item.known_grant_id else ItemStatus.CREATED
    return Outcome(item, status, grant_id=grant.id, found_at_nylas=True)


def not_granted(item: ClaimedItem, error: Exception, *, max_attempts: int) -> Outcome:
    """A failed call: handed back for another attempt while a transient error has attempts
    left, else the user fails with a reason safe to show (never a secret)."""
    if not isinstance(error, NylasError):  # one user's surprise must not strand the others
        return Outcome(item, ItemStatus.FAILED, error=UNEXPECTED)
    if error.retryable and item.attempts < max_attempts:
        return Outcome(item, None)
    message = error.message if isinstance(error, NylasApiError) else error.user_message
    error_type, relayed = None, ""
    if isinstance(error, NylasApiError):  # the provider's own words Nylas relays count too
        error_type, relayed = error.error_type, json.dumps(error.provider_error or "")
    return Outcome(
        item,
        ItemStatus.FAILED,
        error=message[:MAX_ERROR],
        request_id=fit_request_id(error.request_id),
        problem=explain(f"{message} {relayed}", status=error.status, error_type=error_type),
    )


def made_earlier(grants: Iterable[Grant], context: RunContext, *, since: int) -> Grant | None:
    """The grant an earlier attempt of this run made: valid, of this run's credential and
    provider, and touched since the run started (`since`, epoch seconds)."""
    return next(
        (
            grant
            for grant in grants
            if grant.provider == context.provider
            and grant.credential_id == context.credential_id
            and grant.grant_status == "valid"
            and (grant.updated_at or 0) >= since
        ),
        None,
    )


def audit_event(outcome: Outcome, context: RunContext) -> EventSpec:
    assert outcome.status is not None
    revocation = context.run.kind == RequestKind.REVOKE
    return EventSpec(
        actor=context.requester,
        action=_OUTCOME_ACTIONS[outcome.status],
        outcome="failed"
        if outcome.status == ItemStatus.FAILED
        else ("already_revoked" if outcome.error == ALREADY_REVOKED else "ok"),
        subject=Subject(
            # the grant's own credential when the run spans every credential
            credential_id=outcome.item.credential_id or context.credential_id,
            email=outcome.item.email,
            grant_id=outcome.grant_id,
            run_id=context.run_id,
        ),
        request_id=outcome.request_id,
        details={
            "requested_by": context.requester.id,
            "approved_by": context.approver.id if context.approver else None,
            **(
                {
                    "approvers": context.approver.name if context.approver else None,
                    "reason": context.run.reason,
                }
                if revocation
                else {}
            ),
            "attempts": outcome.item.attempts,
            **({"error": outcome.error} if outcome.error and not revocation else {}),
            **({"problem": outcome.problem.code} if outcome.problem else {}),
            **({"found_at_nylas": True} if outcome.found_at_nylas else {}),
        },
    )
