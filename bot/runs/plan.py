"""The dry-run plan of a bulk run: who is new, who already has a grant, what it will cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.nylas.models import Grant
from bot.runs.emails import UserList
from bot.slack.access import SlackActor
from storage.models import ItemStatus

MAX_LISTED_INVALID = 20


@dataclass
class Plan:
    credential_id: int
    credential_name: str
    nylas_credential_id: str
    provider: str
    scopes: list[str]
    skip_existing: bool
    users: UserList
    new: list[str] = field(default_factory=list)
    existing_valid: dict[str, str] = field(default_factory=dict)  # email -> grant id
    existing_invalid: dict[str, str] = field(default_factory=dict)
    start_after: datetime | None = None

    @property
    def calls(self) -> int:
        """Custom Authentication calls the run will make."""
        reauth_valid = 0 if self.skip_existing else len(self.existing_valid)
        return len(self.new) + len(self.existing_invalid) + reauth_valid

    def estimated_seconds(self, rate_per_second: float) -> float:
        return self.calls / rate_per_second

    def items(self) -> list[tuple[str, str, str | None]]:
        """(email, starting status, known grant id) for every user, in list order."""
        rows: list[tuple[str, str, str | None]] = []
        for email in self.users.emails:
            if email in self.existing_valid:
                status = ItemStatus.SKIPPED if self.skip_existing else ItemStatus.PENDING
                rows.append((email, status, self.existing_valid[email]))
            else:
                rows.append((email, ItemStatus.PENDING, self.existing_invalid.get(email)))
        return rows


def make_plan(*, base: Plan, existing: list[Grant]) -> Plan:
    """Sort the users by what Nylas already has for them (one List Grants pass)."""
    by_email = {grant.email.lower(): grant for grant in existing if grant.email}
    for email in base.users.emails:
        grant = by_email.get(email)
        if grant is None:
            base.new.append(email)
        elif grant.grant_status == "invalid":
            base.existing_invalid[email] = grant.id
        else:
            base.existing_valid[email] = grant.id
    return base


@dataclass(frozen=True)
class PendingPlan:
    plan: Plan
    requester: SlackActor
    channel_id: str
