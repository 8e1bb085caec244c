"""The `bulkauth` command line: `serve`, `db upgrade`, `audit verify|export|list`,
`runs list|csv`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TypeVar

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy.exc import SQLAlchemyError

from bot.audit_export import ExportFormat, export_events
from bot.audit_query import resolve_audit_filter
from bot.auditing import audit as record_audit_event
from bot.auditing import cli_actor
from bot.cli_tables import event_table, run_table
from bot.errors import UserInputError
from bot.lifespan import SchemaNotCurrent
from bot.logs import Redactor, configure_logging
from bot.run_report import write_run_csv
from bot.runner import serve as run_server
from bot.settings import DatabaseSettings, Settings, describe_problems
from storage.audit import AuditAction, AuditFilter, count_events, latest_events, verify_chain
from storage.credentials import list_credentials
from storage.db import Sessions, engine_for, session_factory
from storage.migrate import pending_revisions, upgrade
from storage.models import RunStatus
from storage.runs import get_run, item_counts_of_runs, list_runs

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

    async def export(sessions: Sessions) -> None:
        rows = await export_events(
            sessions=sessions, filters=filters, output_format=output_format, out=sys.stdout
        )
        asked = {name: value for name, value in asdict(filters).items() if value is not None}
        details = {"filter": asked, "rows": rows}
        await record_audit_event(
            sessions, actor=cli_actor(), action=AuditAction.AUDIT_EXPORTED, details=details
        )

    with_sessions(export)


@audit.command("list")
@click.argument("filter_text", metavar="[FILTER]", required=False, default="")
@click.option("--since", callback=_parse_since, help="only events at or after this ISO time")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
def audit_list(filter_text: str, since: datetime | None, limit: int) -> None:
    """The newest events, newest first. FILTER is what `/bulkauth audit` takes: an email, a
    user id (U…, or cli:<user>), a credential's name or Nylas id, or a run id."""

    async def listing(sessions: Sessions) -> list[str]:
        try:
            query = await resolve_audit_filter(sessions, filter_text)
        except UserInputError as error:
            raise click.UsageError(error.user_message.replace("`", "'")) from None
        filters = replace(query.filters(), since=since)
        async with sessions() as session:
            events = await latest_events(session=session, filters=filters, limit=limit)
            matching = await count_events(session=session, filters=filters)
        details = {"filter": query.model_dump(exclude_none=True), "matching": matching}
        await record_audit_event(
            sessions, actor=cli_actor(), action=AuditAction.AUDIT_QUERIED, details=details
        )
        return [*event_table(events), f"{len(events)} of {matching} matching events"]

    for line in with_sessions(listing):
        click.echo(line)


@main.group()
def runs() -> None:
    """Bulk runs."""


@runs.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice([s.value for s in RunStatus])
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def runs_list(statuses: tuple[str, ...], limit: int) -> None:
    """The newest runs with their live counts, newest first."""

    async def listing(sessions: Sessions) -> list[str]:
        async with sessions() as session:
            found = await list_runs(session=session, statuses=statuses, limit=limit)
            counts = await item_counts_of_runs(
                session=session, run_ids=[run.id for run in found if run.id is not None]
            )
            names = {c.id: c.name for c in await list_credentials(session=session)}
        return run_table(found, counts, names)

    for line in with_sessions(listing):
        click.echo(line)


@runs.command("csv")
@click.argument("run_id", type=int)
def runs_csv(run_id: int) -> None:
    """Every user's outcome of one run as CSV on stdout (the file its summary links to)."""

    async def writing(sessions: Sessions) -> bool:
        async with sessions() as session:
            if await get_run(session=session, run_id=run_id) is None:
                return False
            await write_run_csv(session, run_id, sys.stdout)
        return True

    if not with_sessions(writing):
        click.echo(f"bulkauth: there is no run {run_id}", err=True)
        sys.exit(2)
