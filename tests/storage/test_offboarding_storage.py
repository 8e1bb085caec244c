"""Offboarding's storage on SQLite and PostgreSQL: the grants a run created (for its undo), and a
credential marked deleted exactly once, kept, and no longer offered."""

from __future__ import annotations

from storage.approvals import request_basis
from storage.credentials import find_credential, list_credentials, mark_deleted
from storage.db import Sessions
from storage.models import CredentialRecord, ItemStatus, utcnow
from storage.runs import created_grants, items_with_presets
from tests.records import acme_run


async def seed(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        credential_id, run_id = await acme_run(session, total=4)
        await items_with_presets(
            session=session,
            run_id=run_id,
            items=[
                ("a@acme.com", ItemStatus.CREATED, "g-a"),
                ("b@acme.com", ItemStatus.REAUTHENTICATED, "g-b"),
                ("c@acme.com", ItemStatus.SKIPPED, "g-c"),
                ("d@acme.com", ItemStatus.CREATED, "g-d"),
            ],
        )
        await session.commit()
        return credential_id, run_id


async def test_a_runs_created_grants_are_only_those_it_created(sessions: Sessions) -> None:
    _credential_id, run_id = await seed(sessions)
    async with sessions() as session:
        assert await created_grants(session=session, run_id=run_id) == {
            "a@acme.com": "g-a",
            "d@acme.com": "g-d",
        }


async def test_a_deleted_credential_is_kept_marked_once_and_no_longer_offered(
    sessions: Sessions,
) -> None:
    credential_id, _run_id = await seed(sessions)
    async with sessions() as session:
        assert await request_basis(session=session, credential_id=credential_id)
        assert await mark_deleted(
            session=session, credential_id=credential_id, by="U0BOB", at=utcnow()
        )
        assert not await mark_deleted(
            session=session, credential_id=credential_id, by="U0ANN", at=utcnow()
        )
        await session.commit()
    async with sessions() as session:
        kept = await session.get(CredentialRecord, credential_id)
        assert kept is not None and kept.deleted_by == "U0BOB" and kept.deleted_at is not None
        assert await list_credentials(session=session) == []
        assert await find_credential(session=session, name_or_id="Acme") is None
        assert await request_basis(session=session, credential_id=credential_id) == ""  # stale
