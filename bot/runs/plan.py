"""The dry-run plan of a bulk run: who is new, who already has a grant, what it will cost."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.nylas.models import Grant
from bot.runs.emails import UserList
from bot.slack.access import SlackActor
from storage.models import CredentialRecord, ItemStatus

MAX_LISTED_INVALID = 20


@dataclass(frozen=True)
class GrantRequest:
    """A checked request modal: everything planning needs, nothing Slack-shaped."""

    credential: CredentialRecord
    candidates: tuple[str, ...]  # as given; folded while planning
    scopes: tuple[str, ...]
    skip_existing: bool
    start_after: datetime | None = None
    reason: str = ""  # why: shown to approvers, in progress, the CSV and the audit


@dataclass(frozen=True)
class Plan:
    credential_id: int
    credential_name: str
    nylas_credential_id: str
    provider: str
    scopes: tuple[str, ...]
    skip_existing: bool
    users: UserList
    new: tuple[str, ...]
    existing_valid: Mapping[str, str]  # email -> grant id
    existing_invalid: Mapping[str, str]
    start_after: datetime | None = None

    @property
    def calls(self) -> int:
        """Custom Authentication calls the run will make."""
        reauth_valid = 0 if self.skip_existing else len(self.existing_valid)
        return len(self.new) + len(self.existing_invalid) + reauth_valid

    def estimated_seconds(self, rate_per_second: float) -> float:
        return self.calls / rate_per_second

    @property
    def size(self) -> int:
        """Users in the run (its items)."""
        return len(self.users.emails)

    def items(self) -> Iterator[tuple[str, str, str | None]]:
        """(email, starting status, known grant id) for every user, in list order: made one at
        a time as they are written, so a big run's rows are never all in memory."""
        for email in self.users.emails:
            if email in self.existing_valid:
                status = ItemStatus.SKIPPED if self.skip_existing else ItemStatus.PENDING
                yield email, status, self.existing_valid[email]
            else:
                yield email, ItemStatus.PENDING, self.existing_invalid.get(email)

    def skipped(self) -> Iterator[tuple[str, str]]:
        """(email, grant id) of the users the run skips (they have a valid grant)."""
        return iter(self.existing_valid.items() if self.skip_existing else ())


def make_plan(request: GrantRequest, users: UserList, existing: list[Grant]) -> Plan:
    """Sort the users by what Nylas already has for them (one List Grants pass)."""
    credential = request.credential
    assert credential.id is not None
    by_email = {grant.email.lower(): grant for grant in existing if grant.email}
    new: list[str] = []
    valid: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for email in users.emails:
        grant = by_email.get(email)
        if grant is None:
            new.append(email)
        elif grant.grant_status == "invalid":
            invalid[email] = grant.id
        else:
            valid[email] = grant.id
    return Plan(
        credential_id=credential.id,
        credential_name=credential.name,
        nylas_credential_id=credential.nylas_credential_id,
        provider=credential.provider,
        scopes=request.scopes,
        skip_existing=request.skip_existing,
        users=users,
        new=tuple(new),
        existing_valid=valid,
        existing_invalid=invalid,
        start_after=request.start_after,
    )


@dataclass(frozen=True)
class PendingPlan:
    plan: Plan
    requester: SlackActor
    channel_id: str
    reason: str = ""
