"""The fake Slack lives in bot/demo/fakes/ (the demo runs on it too); the tests' names stay."""

from bot.demo.fakes.slack import FakeSlack
from bot.demo.fakes.slack_rules import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    SlackCall,
    SlackUser,
    UploadedFile,
    unescaped,
)

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "FakeSlack",
    "SlackCall",
    "SlackUser",
    "UploadedFile",
    "unescaped",
]
