"""`bulkauth demo`: the bot against local fakes, with a page that plays Slack (bot/demo/)."""

from __future__ import annotations

import asyncio

import click

from bot.demo.run import Demo, run_demo
from bot.logs import Redactor, configure_logging


@click.command()
@click.option(
    "--port", default=8000, show_default=True, help="Port of the demo page on 127.0.0.1 (0: any)."
)
def demo(port: int) -> None:
    """Try the bot with no account anywhere: a fake Slack workspace in your browser, fake Nylas,
    Google and Microsoft, SQLite in a temporary folder (gone when the demo stops)."""
    configure_logging(redactor=Redactor(), level="WARNING")

    def announce(running: Demo) -> None:
        click.echo(f"bulkauth demo is running: open {running.url}")
        click.echo("Everything in it is made up and stays on this machine. Ctrl-C stops it.")

    asyncio.run(run_demo(port=port, announce=announce))
