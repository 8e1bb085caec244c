"""The `bulkauth` command line: `serve` and `check` (bot/cli/serve.py), `db upgrade` (db.py), and
the `audit`, `runs`, `credentials`, `doctor`, `demo` and `webhook` commands (their own modules).

A command's module is imported only when that command runs: the bot's server, its Slack and Nylas
clients and the migrations take seconds to import, and `bulkauth runs list` needs none of them."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of its click command or group
COMMANDS = {
    "serve": "bot.cli.serve:serve",
    "check": "bot.cli.serve:check",
    "db": "bot.cli.db:db",
    "audit": "bot.cli.audit:audit",
    "runs": "bot.cli.runs:runs",
    "credentials": "bot.cli.credentials:credentials",
    "doctor": "bot.cli.doctor:doctor",
    "demo": "bot.cli.demo:demo",
    "webhook": "bot.cli.webhooks:webhook",
}


class CommandsOnDemand(click.Group):
    """A group whose commands are imported when asked for (COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 (click's signature)
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=CommandsOnDemand)
@click.version_option(package_name="bulkauth")
def main() -> None:
    """bulkauth: create Nylas bulk authentication grants from Slack."""
