"""The fakes' local server, in bot/demo/fakes/ (the demo runs on it too)."""

from bot.demo.fakes.http import LocalServer

__all__ = ["LocalServer"]
