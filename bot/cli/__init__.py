"""The `bulkauth` command line (entry point `bot.cli:main`)."""

from bot.cli.main import main

__all__ = ["main"]
