"""Alembic migrations own the schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage.approvals import basis_change, newer_request
from storage.db import create_engine, session_factory
from storage.migrate import pending_revisions, upgrade
from storage.models import BulkRun, utcnow
from tests.cli import run_cli

SECRET_WORDS = ("secret", "private_key", "password", "token")
NOT_SECRETS = {  # identifiers, dates
    "credential.private_key_id",
    "credential.secret_expires_on",
    "credential.secret_set_at",
}


async def test_migrations_produce_exactly_the_sqlmodel_metadata(engine: AsyncEngine) -> None:
    def differences(sync) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_nothing_is_pending_after_upgrade_and_upgrading_again_is_harmless(
    engine: AsyncEngine,
) -> None:
    assert await pending_revisions(engine) == []
    await upgrade(engine)
    assert await pending_revisions(engine) == []


async def test_an_empty_database_has_pending_migrations(database_url: str) -> None:
    fresh = create_engine(database_url)
    try:
        assert sorted(await pending_revisions(fresh)) == [
            "0001",
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
        ]
    finally:
        await fresh.dispose()


async def test_no_column_can_hold_a_secret(engine: AsyncEngine) -> None:
    def columns(sync) -> list[str]:
        inspector = inspect(sync)
        return [
            f"{table}.{column['name']}"
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
        ]

    async with engine.connect() as connection:
        names = await connection.run_sync(columns)
    assert "credential.client_email" in names
    suspicious = {name for name in names if any(word in name for word in SECRET_WORDS)}
    assert suspicious == NOT_SECRETS


async def test_replicas_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    """Three replicas start at once on an empty database (compose scale, a rolling deploy),
    each its own process running `bulkauth db upgrade`: every one succeeds, the schema once."""
    fresh = create_engine(database_url)
    try:
        results = await asyncio.gather(
            *(run_cli(fresh, "db", "upgrade", cwd=tmp_path) for _ in range(3))
        )
        assert [code for code, _out, _err in results] == [0, 0, 0], results
        assert await pending_revisions(fresh) == []
    finally:
        await fresh.dispose()


async def test_a_request_awaiting_approval_before_the_policy_still_expires_and_is_not_stale(
    database_url: str,
) -> None:
    """Upgraded to the approval policy (0006) with a request already awaiting: it gets a time
    limit, and its missing basis and digest do not make an approval look stale."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO credential (nylas_credential_id, provider, credential_type, name, "
                    "registered_by, registered_by_name, registered_at, uses_connector_app) VALUES "
                    "('cred-1', 'google', 'serviceaccount', 'acme.com', 'U1', 'Ada', :now, false)"
                ),
                {"now": utcnow()},
            )
            await connection.execute(
                text(
                    "INSERT INTO bulk_run (credential_id, provider, scopes, skip_existing, status, "
                    "requested_by, requested_by_name, total, created, reauthenticated, skipped, "
                    "failed, created_at, hold_count) VALUES (1, 'google', '', true, "
                    "'awaiting_approval', 'U1', 'Ada', 3, 0, 0, 0, 0, :now, 0)"
                ),
                {"now": utcnow()},
            )
        await upgrade(engine)
        async with session_factory(engine)() as session:
            run = await session.get(BulkRun, 1)
            assert run is not None and run.expires_at is not None
            assert basis_change(run.basis, "current-basis") == ""
            assert await newer_request(session=session, run=run) is None
    finally:
        await engine.dispose()
