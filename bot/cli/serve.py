"""`bulkauth serve` runs the bot; `bulkauth check` checks its settings and tokens."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import click
from sqlalchemy.exc import SQLAlchemyError

from bot.audit.key import AuditKeyProblem
from bot.cli.common import database_url_option, load_settings
from bot.lifespan import SchemaNotCurrent, build_nylas_client, settings_secrets
from bot.logs import Redactor, configure_logging
from bot.preflight import Findings, TokensRefused, preflight
from bot.serve import serve as run_server
from bot.settings import Settings
from bot.slack.client import build_slack_client


@click.command()
@database_url_option
def serve(database_url: str | None) -> None:
    """Run the bot (Socket Mode when SLACK_APP_TOKEN is set, HTTP mode otherwise)."""
    settings = load_settings(Settings, database_url=database_url)
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


@click.command()
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
