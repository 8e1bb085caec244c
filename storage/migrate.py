"""Alembic migrations own the schema; these helpers run them on an async engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# Replicas starting together must not migrate at once: on PostgreSQL the first takes this
# transaction-scoped advisory lock, the others wait for it and then find nothing to apply.
# (SQLite serialises writers by itself.)
MIGRATION_LOCK_ID = 7_466_310_201  # any constant; "bulkauth" for whoever reads pg_locks


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


def revision_title(revision: str) -> str:
    """`0002 bulk run thread`: the revision and the first line of its message."""
    script = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    title = (script.doc or "").strip().splitlines() if script is not None else []
    return f"{revision} {title[0]}" if title else revision


async def pending_revisions(engine: AsyncEngine) -> list[str]:
    """Revisions not yet applied (empty when the database is current)."""

    def compute(sync: Any) -> list[str]:
        current = MigrationContext.configure(sync).get_current_heads()
        script = ScriptDirectory.from_config(alembic_config())
        return [
            rev.revision
            for rev in script.iterate_revisions("heads", current[0] if current else "base")
            if rev.revision not in current
        ]

    async with engine.connect() as connection:
        return await connection.run_sync(compute)
