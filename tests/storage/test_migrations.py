"""Alembic migrations own the schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from storage.db import create_engine
from storage.migrate import pending_revisions, upgrade
from tests.cli import run_cli

SECRET_WORDS = ("secret", "private_key", "password", "token")
NOT_SECRETS = {"credential.private_key_id", "credential.secret_expires_on"}  # identifiers, dates


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
