"""When a credential's expiry reminders are due: pure functions of its record and the time.

A Microsoft client secret expires on the date given at registration or rotation (taken as
00:00 UTC that day); a Google key is due for rotation `BULKAUTH_GOOGLE_KEY_MAX_AGE_DAYS` after it
was set. Either deadline is reminded 30, 7 and 1 days before and on the day. A threshold's key
names its deadline, so a rotation (a new deadline) starts a new set of reminders.

Only the most recent threshold that has passed is ever owed: a bot that was down through the
30- and 7-day thresholds posts the 7-day one once at start, never both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from storage.models import CredentialRecord, as_utc

THRESHOLD_DAYS = (30, 7, 1, 0)
Deadline = Literal["secret", "key"]


@dataclass(frozen=True)
class Threshold:
    kind: Deadline  # a Microsoft secret's expiry, or a Google key's maximum age
    due: datetime  # the deadline itself
    days_before: int
    at: datetime  # when the reminder fires

    @property
    def key(self) -> str:
        """Stored with the claim: unique per credential and deadline (at most 64 characters)."""
        return f"{self.kind}:{self.due:%Y-%m-%dT%H:%M}:{self.days_before}d"


def key_set_at(record: CredentialRecord) -> datetime:
    """When the current key or secret was set; registration time for rows older than that."""
    return as_utc(record.secret_set_at or record.registered_at)


def deadline_of(
    record: CredentialRecord, *, key_max_age_days: int
) -> tuple[Deadline, datetime] | None:
    """The credential's deadline: a Microsoft secret's expiry (when the bot's own Azure app
    secret is known), a Google key's maximum age; None when there is nothing to remind of
    (a credential deleted at Nylas has nothing left to rotate)."""
    if record.deleted_at is not None:
        return None
    if record.provider == "google":
        return "key", key_set_at(record) + timedelta(days=key_max_age_days)
    if record.secret_expires_on is None or record.uses_connector_app:
        return None
    return "secret", datetime.combine(record.secret_expires_on, time(0, 0), tzinfo=UTC)


def thresholds(record: CredentialRecord, *, key_max_age_days: int) -> list[Threshold]:
    """The credential's thresholds, earliest first."""
    deadline = deadline_of(record, key_max_age_days=key_max_age_days)
    if deadline is None:
        return []
    kind, due = deadline
    return [Threshold(kind, due, days, due - timedelta(days=days)) for days in THRESHOLD_DAYS]


def owed(all_thresholds: list[Threshold], now: datetime) -> Threshold | None:
    """The most recent threshold that has passed (fired or not)."""
    passed = [threshold for threshold in all_thresholds if threshold.at <= now]
    return passed[-1] if passed else None


def upcoming(all_thresholds: list[Threshold], now: datetime) -> Threshold | None:
    return next((threshold for threshold in all_thresholds if threshold.at > now), None)
