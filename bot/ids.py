"""Every Slack identifier the bot uses: commands, subcommands, action, callback and block ids.

Handlers register against these members and builders emit the same members, so an id is never
typed twice. A test checks the manifest's commands against `CommandName`.
"""

from enum import StrEnum


class CommandName(StrEnum):
    BULKAUTH = "/bulkauth"


class Subcommand(StrEnum):
    HELP = "help"
    CREDENTIAL = "credential"
    CREDENTIALS = "credentials"
    CONSENT = "consent"
    GRANTS = "grants"
    AUDIT = "audit"
    STATUS = "status"


class ActionId(StrEnum):
    OPEN_URL = "open_url"  # link buttons still send block_actions; acked and ignored


class CallbackId(StrEnum):
    pass


class BlockId(StrEnum):
    pass
