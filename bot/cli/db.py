"""`bulkauth db upgrade`: the database's migrations."""

from __future__ import annotations

import asyncio

import click

from bot.cli.common import database_url_option, load_settings
from bot.settings import DatabaseSettings
from storage.db import engine_for
from storage.migrate import pending_revisions, revision_title, upgrade


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@database_url_option
def db_upgrade(database_url: str | None) -> None:
    """Apply pending migrations to DATABASE_URL, naming each one applied."""
    settings = load_settings(DatabaseSettings, database_url=database_url)

    async def apply() -> list[str]:
        async with engine_for(settings.database_url) as engine:
            pending = await pending_revisions(engine)
            await upgrade(engine)
        return sorted(pending)

    applied = asyncio.run(apply())
    for revision in applied:
        click.echo(f"applied {revision_title(revision)}")
    click.echo("database is up to date" if applied else "nothing to apply; database is up to date")
