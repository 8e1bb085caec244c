"""`bulkauth audit verify|export|list`: the audit log from a terminal."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import click
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.anchors import AnchorFileProblem, read_anchor_file, read_slack_anchors
from bot.audit.export import ExportFormat, export_events
from bot.audit.query import resolve_audit_filter
from bot.audit.recording import audit as record_audit_event
from bot.audit.recording import cli_actor
from bot.cli.common import database_url_option, load_settings, with_sessions
from bot.cli.output import json_option, print_json, print_table, progress
from bot.cli.records import event_record
from bot.cli.tables import event_table
from bot.errors import UserInputError
from bot.settings import AnchorReadSettings
from storage.audit import (
    Anchor,
    AuditAction,
    AuditFilter,
    check_anchors,
    count_events,
    latest_events,
    verify_chain,
)
from storage.db import Sessions
from storage.models import AuditEvent


@click.group()
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
@database_url_option
def audit_verify(
    anchor_files: tuple[Path, ...], slack_anchors: bool, database_url: str | None
) -> None:
    """Walk the hash chain; exit 1 naming the first altered, removed or reordered event, or the
    first anchor the log no longer agrees with (its end cut off, or replaced wholesale)."""
    anchors = _anchors_from(anchor_files, slack_anchors)

    async def verify(sessions: Sessions) -> tuple[int, str | None]:
        async with sessions() as session:
            total = await count_events(session=session)
            with progress("Verifying the audit chain", total) as advance:
                checked, problem = await verify_chain(session=session, advance=advance)
            if problem is None:
                problem = await check_anchors(session=session, anchors=anchors, checked=checked)
        return checked, problem.describe() if problem else None

    checked, problem = with_sessions(verify, database_url=database_url)
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
@database_url_option
def audit_export(
    output_format: ExportFormat,
    since: datetime | None,
    actor: str | None,
    email: str | None,
    credential: str | None,
    run_id: int | None,
    database_url: str | None,
) -> None:
    """Stream matching audit events to stdout, oldest first (progress on stderr)."""
    filters = AuditFilter(
        since=since, actor_id=actor, email=email, credential_id=credential, run_id=run_id
    )

    async def export(sessions: Sessions) -> None:
        async with sessions() as session:
            total = await count_events(session=session, filters=filters)
        with progress("Exporting audit events", total) as advance:
            rows = await export_events(
                sessions=sessions,
                filters=filters,
                output_format=output_format,
                out=sys.stdout,
                advance=advance,
            )
        asked = {name: value for name, value in asdict(filters).items() if value is not None}
        details = {"filter": asked, "rows": rows}
        await record_audit_event(
            sessions, actor=cli_actor(), action=AuditAction.AUDIT_EXPORTED, details=details
        )

    with_sessions(export, database_url=database_url)


@audit.command("list")
@click.argument("filter_text", metavar="[FILTER]", required=False, default="")
@click.option("--since", callback=_parse_since, help="only events at or after this ISO time")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
@database_url_option
def audit_list(
    filter_text: str, since: datetime | None, limit: int, as_json: bool, database_url: str | None
) -> None:
    """The newest events, newest first. FILTER is what `/bulkauth audit` takes: an email, a
    user id (U…, or cli:<user>), a credential's name or Nylas id, or a run id. With --json, the
    events as `audit export --format jsonl` writes them, in one array (the count on stderr)."""

    async def listing(sessions: Sessions) -> tuple[list[AuditEvent], int]:
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
        return events, matching

    events, matching = with_sessions(listing, database_url=database_url)
    counted = f"{len(events)} of {matching} matching events"
    if as_json:
        print_json([event_record(event) for event in events])
        click.echo(counted, err=True)
    else:
        print_table(event_table(events), counted)
