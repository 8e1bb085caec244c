"""The `bulkauth` command line: `serve`, `db upgrade`, `audit verify`, `audit export`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy.exc import SQLAlchemyError

from bot.audit_export import ExportFormat, export_events
from bot.lifespan import SchemaNotCurrent
from bot.logs import Redactor, configure_logging
from bot.runner import serve as run_server
from bot.settings import DatabaseSettings, Settings, describe_problems
from storage.audit import AuditFilter, verify_chain
from storage.db import Sessions, engine_for, session_factory
from storage.migrate import pending_revisions, upgrade

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
T = TypeVar("T")


def load_settings(kind: type[SettingsT]) -> SettingsT:
    """Settings from the environment; on problems, one line each on stderr and exit 2."""
    try:
        return kind()
    except ValidationError as error:
        click.echo("bulkauth: the configuration has problems:", err=True)
        for line in describe_problems(error):
            click.echo(f"  {line}", err=True)
        sys.exit(2)


def with_sessions(work: Callable[[Sessions], Awaitable[T]], *, migrate: bool = False) -> T:
    """Run `work` against DATABASE_URL; only `db upgrade` changes the schema."""
    settings = load_settings(DatabaseSettings)

    async def run() -> T:
        async with engine_for(settings.database_url) as engine:
            if migrate:
                await upgrade(engine)
            elif await pending_revisions(engine):
                click.echo(
                    "bulkauth: the database schema is not current; run `bulkauth db upgrade` first",
                    err=True,
                )
                sys.exit(2)
            return await work(session_factory(engine))

    return asyncio.run(run())


@click.group()
@click.version_option(package_name="bulkauth")
def main() -> None:
    """bulkauth: create Nylas bulk authentication grants from Slack."""


@main.command()
def serve() -> None:
    """Run the bot (Socket Mode when SLACK_APP_TOKEN is set, HTTP mode otherwise)."""
    settings = load_settings(Settings)
    redactor = Redactor()
    configure_logging(
        redactor=redactor, level=settings.log_level, as_json=settings.log_format == "json"
    )
    try:
        asyncio.run(run_server(settings, redactor=redactor))
    except (SchemaNotCurrent, OSError, SQLAlchemyError) as error:
        # Startup problems (database unreachable, schema behind) get one line, not a traceback.
        click.echo(
            f"bulkauth: cannot start: {redactor.redact(str(error)).splitlines()[0]}", err=True
        )
        sys.exit(1)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to DATABASE_URL."""

    async def nothing_more(_sessions: Sessions) -> None:
        return None

    with_sessions(nothing_more, migrate=True)
    click.echo("database is up to date")


@main.group()
def audit() -> None:
    """The audit log: who did what."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first altered, removed or reordered event."""

    async def verify(sessions: Sessions) -> tuple[int, str | None]:
        async with sessions() as session:
            checked, problem = await verify_chain(session=session)
        return checked, problem.describe() if problem else None

    checked, problem = with_sessions(verify)
    if problem:
        click.echo(f"audit chain BROKEN at {problem} ({checked} events before it are intact)")
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} events")


def _parse_since(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use an ISO date or time, e.g. 2026-11-01 or 2026-11-01T09:30"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@audit.command("export")
@click.option("--format", "output_format", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--since", callback=_parse_since, help="only events at or after this ISO time")
@click.option("--actor", help="Slack user id (or cli:<user>) who acted")
@click.option("--email", help="mailbox the event is about")
@click.option("--credential", help="Nylas credential id")
@click.option("--run", "run_id", type=int, help="bulk run id")
def audit_export(
    output_format: ExportFormat,
    since: datetime | None,
    actor: str | None,
    email: str | None,
    credential: str | None,
    run_id: int | None,
) -> None:
    """Stream matching audit events to stdout, oldest first."""
    filters = AuditFilter(
        since=since, actor_id=actor, email=email, credential_id=credential, run_id=run_id
    )

    async def export(sessions: Sessions) -> int:
        return await export_events(
            sessions=sessions, filters=filters, output_format=output_format, out=sys.stdout
        )

    with_sessions(export)
