"""Why one grant is probably invalid, in plain words: the same causes as the grouped alerts
(`bot/alerts/causes.py`), with the day Nylas marked it invalid."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.alerts.causes import likely_cause as likely_group_cause
from bot.nylas.models import Grant
from storage.models import CredentialRecord


def _day(timestamp: int | None) -> date | None:
    return datetime.fromtimestamp(timestamp, UTC).date() if timestamp else None


def likely_cause(credential: CredentialRecord, grant: Grant, *, today: date) -> str:
    """One sentence: when Nylas marked it invalid, and the likely cause (the credential's
    expired secret when that explains it, else what usually breaks grants of this provider)."""
    marked = _day(grant.updated_at)
    when = f" on {marked.isoformat()}" if marked else ""
    cause = likely_group_cause(
        provider=credential.provider,
        known=True,
        secret_expires_on=credential.secret_expires_on,
        expired=1,
        deleted=0,
        today=marked or today,
    )
    return f"Nylas marked it invalid{when}; likely cause: {cause}."
