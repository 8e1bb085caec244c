"""The one error hierarchy of the bot. Every error a user can meet is a BotError.

    BotError
     ├── UserInputError      bad input; `field_errors` maps a modal block id to its message
     ├── AccessDenied        the Slack user is not allowed to do this
     ├── NotFound            a credential, run or consent request that does not exist
     └── NylasError          (bot.nylas.errors) Nylas answered with an error or not at all

`app.error` in bot/app.py turns any of these into an ephemeral message; anything else is
logged with a correlation id, and the user is shown that id.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class; `user_message` is safe to show in Slack (it never carries a secret)."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UserInputError(BotError):
    def __init__(self, user_message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(user_message)
        self.field_errors = field_errors or {}


class AccessDenied(BotError):
    pass


class NotFound(BotError):
    pass
