"""Why a grant is probably invalid, in plain words, from what the bot knows of its credential
(like bot/nylas/problems.py, which explains refused calls)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.nylas.models import Grant
from storage.models import CredentialRecord


def _day(timestamp: int | None) -> date | None:
    return datetime.fromtimestamp(timestamp, UTC).date() if timestamp else None


def likely_cause(credential: CredentialRecord, grant: Grant, *, today: date) -> str:
    """One sentence: the credential's expired secret when that explains it, else what usually
    breaks grants of this provider, else when Nylas marked it invalid."""
    marked = _day(grant.updated_at)
    when = f" on {marked.isoformat()}" if marked else ""
    expiry = credential.secret_expires_on
    if credential.provider == "microsoft" and expiry is not None and expiry <= (marked or today):
        return (
            f"The Azure app's client secret expired on {expiry.isoformat()}: add a new secret, "
            "update the credential, then re-authenticate."
        )
    if credential.provider == "google":
        return (
            f"Nylas marked it invalid{when}: for a service account this is usually a deleted key "
            "or domain-wide delegation changed in Google Admin (client id or scopes)."
        )
    return (
        f"Nylas marked it invalid{when}: the mailbox may be gone, or the admin's consent was "
        "revoked in Microsoft Entra."
    )
