"""`bulkauth demo`: the bot against local fakes, with a page that plays Slack (bot/demo/)."""

from __future__ import annotations

import asyncio
import sys

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
    redactor = Redactor()  # the bot adds its (made-up) secrets to it at start
    configure_logging(redactor=redactor, level="WARNING")

    def announce(running: Demo) -> None:
        click.echo(f"bulkauth demo is running: open {running.url}")
        click.echo("Everything in it is made up and stays on this machine. Ctrl-C stops it.")

    try:
        asyncio.run(run_demo(port=port, redactor=redactor, announce=announce))
    except OSError as error:  # the port is taken, most often
        click.echo(f"bulkauth demo: cannot start: {error.strerror or error}", err=True)
        click.echo("Try another port: bulkauth demo --port 0 picks a free one.", err=True)
        sys.exit(1)
