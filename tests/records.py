"""Rows as the bot writes them, for tests that start from a given database state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession as ModelSession

from storage.models import (
    BulkRun,
    ConsentRequest,
    CredentialRecord,
    ItemStatus,
    RunItem,
    RunStatus,
    utcnow,
)
from storage.runs import create_run

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


async def acme_run(session: AsyncSession, *, total: int) -> tuple[int, int]:
    """Ada's Google credential "Acme" (cred-1) and a run of `total` users for it, flushed (not
    committed); their ids."""
    credential = CredentialRecord(
        nylas_credential_id="cred-1",
        provider="google",
        credential_type="serviceaccount",
        name="Acme",
        registered_by="U0ADA",
        registered_by_name="Ada",
    )
    session.add(credential)
    await session.flush()
    assert credential.id is not None
    run = await create_run(
        session=session,
        run=BulkRun(
            credential_id=credential.id,
            provider="google",
            requested_by="U0ADA",
            requested_by_name="Ada",
            total=total,
        ),
    )
    assert run.id is not None
    return credential.id, run.id


async def worked_by_another_replica(session: ModelSession, run_id: int) -> None:
    """The run's pending items are in flight at another replica (a fresh claim): a running bot
    in the test leaves them alone, so the run stays as seeded while the test reads it."""
    await session.exec(
        update(RunItem)
        .where(col(RunItem.run_id) == run_id, col(RunItem.status) == ItemStatus.PENDING)
        .values(status=ItemStatus.IN_PROGRESS, claimed_by="replica-b", claimed_at=utcnow())
    )
