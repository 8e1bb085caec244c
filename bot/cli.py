"""The `bulkauth` command line."""

from __future__ import annotations

import asyncio
import sys

import click
from pydantic import ValidationError

from bot.logs import Redactor, configure_logging
from bot.runner import serve as run_server
from bot.settings import Settings, describe_problems


def load_settings() -> Settings:
    """Settings from the environment; on problems, one line each on stderr and exit 2."""
    try:
        return Settings()
    except ValidationError as error:
        click.echo("bulkauth: the configuration has problems:", err=True)
        for line in describe_problems(error):
            click.echo(f"  {line}", err=True)
        sys.exit(2)


@click.group()
@click.version_option(package_name="bulkauth")
def main() -> None:
    """bulkauth: create Nylas bulk authentication grants from Slack."""


@main.command()
def serve() -> None:
    """Run the bot (Socket Mode when SLACK_APP_TOKEN is set, HTTP mode otherwise)."""
    settings = load_settings()
    redactor = Redactor()
    configure_logging(
        redactor=redactor, level=settings.log_level, as_json=settings.log_format == "json"
    )
    asyncio.run(run_server(settings, redactor=redactor))
