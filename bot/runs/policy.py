"""The approval policy as plain rules: how many approvers a request needs, when it is reminded
and when it expires. Every kind of request (grants now; re-authentication, revocation and
credential deletion when they exist) goes through the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.settings import Settings
from storage.models import DESTRUCTIVE_KINDS, RequestKind

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class ApprovalRules:
    approvals_required: int = 1
    two_above_users: int = 1_000
    two_for_destructive: bool = True
    ttl_hours: float = 24.0
    remind_hours: float = 4.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ApprovalRules:
        return cls(
            approvals_required=settings.bulkauth_approvals_required,
            two_above_users=settings.bulkauth_two_approvals_above_users,
            two_for_destructive=settings.bulkauth_two_approvals_for_destructive,
            ttl_hours=settings.bulkauth_approval_ttl_hours,
            remind_hours=settings.bulkauth_approval_remind_hours,
        )

    def approvals_needed(self, kind: RequestKind, users: int) -> int:
        """Distinct approvers a request needs: the configured number, at least two above
        the size limit, and at least two for destructive kinds when so configured."""
        two = users > self.two_above_users or (
            self.two_for_destructive and kind in DESTRUCTIVE_KINDS
        )
        return max(self.approvals_required, 2 if two else 1)

    def remind_at(self, created: datetime) -> datetime | None:
        """One reminder, unless it would come after the request has expired."""
        if self.remind_hours >= self.ttl_hours:
            return None
        return created + timedelta(hours=self.remind_hours)

    def expires_at(self, created: datetime) -> datetime:
        return created + timedelta(hours=self.ttl_hours)


def approvals_line(names: list[str], required: int) -> str:
    """1 of 2 approvals (Ann)"""
    who = f" ({', '.join(names)})" if names else ""
    noun = "approval" if required == 1 else "approvals"
    return f"{len(names)} of {required} {noun}{who}"
