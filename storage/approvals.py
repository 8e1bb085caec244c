"""The approval step's storage: one row per approval, the request's basis, reminders and expiry
claimed exactly once across replicas."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.consents import latest_consents
from storage.models import BulkRun, CredentialRecord, RunApproval, RunStatus

_HALF = 32  # the basis is the credential's fingerprint then the consent's, 32 hex digits each


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def users_digest(emails: Iterable[str]) -> str:
    """The same users in any order give the same digest (a newer plan for the same list).
    The same as `_digest(*sorted(emails))`, hashed a user at a time: a million users' text is
    never joined into one string."""
    digest = hashlib.sha256()
    for index, email in enumerate(sorted(emails)):
        digest.update(b"\x1f" + email.encode() if index else email.encode())
    return digest.hexdigest()


DEAD_REQUEST_STATUSES = (RunStatus.CANCELLED, RunStatus.REJECTED, RunStatus.EXPIRED)


async def request_basis(*, session: AsyncSession, credential_id: int | None) -> str:
    """What a plan rests on: the credential as registered and its latest consent ("" when the
    credential is gone). Rotating the key or secret, or a consent revoked or renewed, changes it.
    `None` (a revocation across every credential): every live credential and its consent, so
    registering, rotating or deleting any of them changes it."""
    if credential_id is None:
        rows = await session.exec(
            select(CredentialRecord)
            .where(col(CredentialRecord.deleted_at).is_(None))
            .order_by(col(CredentialRecord.id))
        )
        credentials = list(rows.all())
    else:
        one = await session.get(CredentialRecord, credential_id)
        if one is None or one.deleted_at is not None:
            return ""
        credentials = [one]
    consents = await latest_consents(
        session=session, credential_ids=[c.id for c in credentials if c.id is not None]
    )
    credential_parts = [
        _digest(
            credential.nylas_credential_id,
            credential.private_key_id,
            credential.client_id,
            credential.tenant,
            credential.secret_expires_on,
        )
        for credential in credentials
    ]
    consent_parts = [
        _digest(consent.id, consent.status) if consent is not None else _digest("none")
        for consent in (consents.get(c.id) if c.id is not None else None for c in credentials)
    ]
    if credential_id is not None:  # one credential: the basis requests always had
        credential_part, consent_part = credential_parts[0], consent_parts[0]
    else:
        credential_part, consent_part = _digest(*credential_parts), _digest(*consent_parts)
    return credential_part[:_HALF] + consent_part[:_HALF]


def basis_change(planned: str, now: str) -> str:
    """Which part of a request's basis changed: "", "credential", "consent" or "deleted". A
    request written before bases were kept ("") has nothing to compare, so nothing changed."""
    if not now:
        return "deleted"
    if not planned:
        return ""
    if planned[:_HALF] != now[:_HALF]:
        return "credential"
    return "consent" if planned[_HALF:] != now[_HALF:] else ""


async def newer_request(*, session: AsyncSession, run: BulkRun) -> int | None:
    """The id of a later request of the same kind for the same credential and users, if any."""
    if not run.users_digest:  # written before digests were kept: nothing to compare
        return None
    query = (
        select(func.max(BulkRun.id))
        .where(
            col(BulkRun.credential_id).is_(None)
            if run.credential_id is None
            else col(BulkRun.credential_id) == run.credential_id
        )
        .where(col(BulkRun.users_digest) == run.users_digest)
        .where(col(BulkRun.kind) == run.kind)
        .where(col(BulkRun.id) > run.id)
        # A newer request that was withdrawn, rejected or expired supersedes nothing.
        .where(col(BulkRun.status).not_in(DEAD_REQUEST_STATUSES))
    )
    return (await session.exec(query)).one()


async def lock_awaiting(*, session: AsyncSession, run_id: int) -> bool:
    """Take the run's row lock while it awaits approval (False: decided already), so that
    concurrent approvals of one request count each other on PostgreSQL too."""
    result = await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .where(col(BulkRun.status) == RunStatus.AWAITING_APPROVAL)
        .values(approvals_required=BulkRun.approvals_required)
    )
    return bool(result.rowcount)


async def add_approval(
    *, session: AsyncSession, run_id: int, approver_id: str, approver_name: str, at: datetime
) -> bool:
    """Record one approval (False: this person has approved this request already)."""
    try:
        async with session.begin_nested():
            session.add(
                RunApproval(
                    run_id=run_id,
                    approver_id=approver_id,
                    approver_name=approver_name,
                    approved_at=at,
                )
            )
    except IntegrityError:
        return False
    return True


async def approvals_of(*, session: AsyncSession, run_id: int) -> list[RunApproval]:
    query = (
        select(RunApproval).where(col(RunApproval.run_id) == run_id).order_by(col(RunApproval.id))
    )
    return list((await session.exec(query)).all())


async def awaiting_due(*, session: AsyncSession, now: datetime) -> list[BulkRun]:
    """Requests awaiting approval whose reminder or expiry time has come."""
    query = (
        select(BulkRun)
        .where(col(BulkRun.status) == RunStatus.AWAITING_APPROVAL)
        .where(
            (col(BulkRun.expires_at) <= now)
            | ((col(BulkRun.remind_at) <= now) & col(BulkRun.reminded_at).is_(None))
        )
        .order_by(col(BulkRun.id))
    )
    return list((await session.exec(query)).all())


async def claim_reminder(*, session: AsyncSession, run_id: int, at: datetime) -> bool:
    """Exactly one replica wins the reminder of a request."""
    result = await session.exec(
        update(BulkRun)
        .where(col(BulkRun.id) == run_id)
        .where(col(BulkRun.status) == RunStatus.AWAITING_APPROVAL)
        .where(col(BulkRun.reminded_at).is_(None))
        .values(reminded_at=at)
    )
    return bool(result.rowcount)


async def unclaim_reminder(*, session: AsyncSession, run_id: int) -> None:
    """The reminder's post failed: a later sweep tries it again."""
    await session.exec(update(BulkRun).where(col(BulkRun.id) == run_id).values(reminded_at=None))
