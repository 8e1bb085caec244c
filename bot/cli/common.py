"""What every command of the `bulkauth` command line shares: settings and the database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from bot.audit.key import AuditKeyProblem, resolve_audit_key
from bot.settings import DatabaseSettings, describe_problems
from storage.db import Sessions, engine_for, missing_sqlite_file, session_factory
from storage.migrate import pending_revisions

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
T = TypeVar("T")


database_url_option = click.option(
    "--database-url",
    metavar="URL",
    help="the database to open (sqlite:///path.db or postgresql://…); default: DATABASE_URL",
)


def load_settings(kind: type[SettingsT], *, database_url: str | None = None) -> SettingsT:
    """Settings from the environment (`--database-url` wins over DATABASE_URL); on problems,
    one line each on stderr and exit 2."""
    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    try:
        return kind(**overrides)
    except ValidationError as error:
        click.echo("bulkauth: the configuration has problems:", err=True)
        for line in describe_problems(error):
            click.echo(f"  {line}", err=True)
        sys.exit(2)


def with_sessions(
    work: Callable[[Sessions], Awaitable[T]], *, database_url: str | None = None
) -> T:
    """Run `work` against the database's current schema (`--database-url`, or DATABASE_URL).
    Only `db upgrade` changes the schema or creates a SQLite file: here a missing file means the
    command runs in the wrong folder."""
    settings = load_settings(DatabaseSettings, database_url=database_url)
    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        click.echo(f"bulkauth: no database at {missing} (DATABASE_URL?)", err=True)
        sys.exit(2)
    try:
        audit_key = resolve_audit_key(settings).key
    except AuditKeyProblem as problem:
        click.echo(f"bulkauth: {problem}", err=True)
        sys.exit(2)

    async def run() -> T:
        async with engine_for(settings.database_url) as engine:
            if await pending_revisions(engine):
                click.echo(
                    "bulkauth: the database schema is not current; run `bulkauth db upgrade` first",
                    err=True,
                )
                sys.exit(2)
            return await work(session_factory(engine, audit_key=audit_key))

    return asyncio.run(run())
