"""Rows as the bot writes them, for tests that start from a given database state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storage.models import BulkRun, ConsentRequest, CredentialRecord, RunStatus, utcnow

REQUESTER = "U0ADMIN"


def credential_record(name: str, provider: str = "google", **fields: Any) -> CredentialRecord:
    values: dict[str, Any] = {
        "nylas_credential_id": f"cred-{provider}-{name}",
        "credential_type": "serviceaccount" if provider == "google" else "adminconsent",
        "registered_by": REQUESTER,
        "registered_by_name": "Ada Admin",
        **fields,
    }
    return CredentialRecord(provider=provider, name=name, **values)


def run_record(credential_id: int | None, status: RunStatus, **fields: Any) -> BulkRun:
    assert credential_id is not None, "flush the credential first"
    values: dict[str, Any] = {
        "provider": "google",
        "requested_by": REQUESTER,
        "requested_by_name": "Ada Admin",
        "total": 3,
        **fields,
    }
    return BulkRun(credential_id=credential_id, status=status, **values)


def consent_record(credential_id: int | None, *, ready_in_seconds: float = -300) -> ConsentRequest:
    """Admin consent granted for the credential; Microsoft's propagation wait ends
    `ready_in_seconds` from now (negative: already over)."""
    assert credential_id is not None, "flush the credential first"
    now = utcnow()
    return ConsentRequest(
        credential_id=credential_id,
        status="consented",
        state_hash=f"h{credential_id}-{now.timestamp()}",
        requested_by=REQUESTER,
        requested_by_name="Ada Admin",
        channel_id="C0OPS",
        expires_at=now + timedelta(days=1),
        consented_at=now - timedelta(minutes=10),
        reminded_at=now,
        ready_at=now + timedelta(seconds=ready_in_seconds),
    )
