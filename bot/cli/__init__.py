"""The `bulkauth` command line: `serve`, `db upgrade`, `audit verify|export|list`,
`runs list|csv`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import aiohttp
import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.audit.anchors import AnchorFileProblem, read_anchor_file, read_slack_anchors
from bot.audit.export import ExportFormat, export_events
from bot.audit.key import AuditKeyProblem, resolve_audit_key
from bot.audit.query import resolve_audit_filter
from bot.audit.recording import audit as record_audit_event
from bot.audit.recording import cli_actor
from bot.cli.tables import event_table, run_table
from bot.errors import UserInputError
from bot.lifespan import SchemaNotCurrent, build_nylas_client, settings_secrets
from bot.logs import Redactor, configure_logging
from bot.preflight import Findings, TokensRefused, preflight
from bot.runs.report import write_run_csv
from bot.serve import serve as run_server
from bot.settings import AnchorReadSettings, DatabaseSettings, Settings, describe_problems
from bot.slack.client import build_slack_client
from storage.audit import (
    Anchor,
    AuditAction,
    AuditFilter,
    check_anchors,
    count_events,
    latest_events,
    verify_chain,
)
from storage.credentials import list_credentials
from storage.db import Sessions, engine_for, missing_sqlite_file, session_factory
from storage.migrate import pending_revisions, revision_title, upgrade
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


def with_sessions(work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` against DATABASE_URL's current schema. Only `db upgrade` changes the schema
    or creates a SQLite file: here a missing file means the command runs in the wrong folder."""
    settings = load_settings(DatabaseSettings)
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
    except TokensRefused as refused:
        click.echo("bulkauth: cannot start: a service refused a token:", err=True)
        for line in refused.lines:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    except (SchemaNotCurrent, AuditKeyProblem, OSError, SQLAlchemyError) as error:
        # Startup problems (database unreachable, schema behind) get one line, not a traceback.
        click.echo(
            f"bulkauth: cannot start: {redactor.redact(str(error)).splitlines()[0]}", err=True
        )
        sys.exit(1)


@main.command()
def check() -> None:
    """Check the settings and the tokens (Slack auth.test, one Nylas call); exit 1 on a problem."""
    settings = load_settings(Settings)
    redactor = Redactor()
    redactor.add(*settings_secrets(settings))
    configure_logging(redactor=redactor, level="WARNING")

    async def run() -> Findings:
        async with aiohttp.ClientSession() as http:
            nylas = build_nylas_client(settings)
            try:
                return await preflight(build_slack_client(settings, http), nylas, settings)
            finally:
                await nylas.aclose()

    found = asyncio.run(run())
    for line in found.fine:
        click.echo(f"ok: {line}")
    for line in [*found.problems, *found.unreachable]:
        click.echo(f"problem: {line}", err=True)
    sys.exit(1 if found.problems or found.unreachable else 0)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to DATABASE_URL, naming each one applied."""
    settings = load_settings(DatabaseSettings)

    async def apply() -> list[str]:
        async with engine_for(settings.database_url) as engine:
            pending = await pending_revisions(engine)
            await upgrade(engine)
        return sorted(pending)

    applied = asyncio.run(apply())
    for revision in applied:
        click.echo(f"applied {revision_title(revision)}")
    click.echo("database is up to date" if applied else "nothing to apply; database is up to date")


@main.group()
def audit() -> None:
    """The audit log: who did what."""


def _anchors_from(files: tuple[Path, ...], from_slack: bool) -> list[Anchor]:
    """Every anchor asked for; a file or Slack that cannot be read is a usage error (exit 2)."""
    anchors: list[Anchor] = []
    try:
        for path in files:
            anchors += read_anchor_file(path)
    except AnchorFileProblem as problem:
        raise click.UsageError(str(problem)) from None
    if from_slack:
        anchors += asyncio.run(_slack_anchors())
    return anchors


async def _slack_anchors() -> list[Anchor]:
    settings = load_settings(AnchorReadSettings)
    if settings.anchor_channel is None:
        raise click.UsageError(
            "--slack-anchors needs BULKAUTH_AUDIT_ANCHOR_CHANNEL (or BULKAUTH_APPROVAL_CHANNEL)"
        )
    base_url = (settings.slack_api_url or AsyncWebClient.BASE_URL).rstrip("/") + "/"
    slack = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url)
    return await read_slack_anchors(slack, settings.anchor_channel)


@audit.command("verify")
@click.option(
    "--anchors",
    "anchor_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an anchor file the bot wrote; the log must still hold every anchored event",
)
@click.option(
    "--slack-anchors",
    is_flag=True,
    help="also hold the log against the anchors the bot posted in its anchor channel",
)
def audit_verify(anchor_files: tuple[Path, ...], slack_anchors: bool) -> None:
    """Walk the hash chain; exit 1 naming the first altered, removed or reordered event, or the
    first anchor the log no longer agrees with (its end cut off, or replaced wholesale)."""
    anchors = _anchors_from(anchor_files, slack_anchors)

    async def verify(sessions: Sessions) -> tuple[int, str | None]:
        async with sessions() as session:
            checked, problem = await verify_chain(session=session)
            if problem is None:
                problem = await check_anchors(session=session, anchors=anchors, checked=checked)
        return checked, problem.describe() if problem else None

    checked, problem = with_sessions(verify)
    if problem:
        click.echo(f"audit chain BROKEN at {problem} ({checked} events before it are intact)")
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} events")
    if anchor_files or slack_anchors:
        click.echo(f"{len(anchors)} anchors agree with it")


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
