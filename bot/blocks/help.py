"""The `/bulkauth help` answer."""

from __future__ import annotations

from bot.blocks import Message, escape, markdown
from bot.ids import CommandName

COMMANDS = (
    ("credential google", "Register a Google service account (JSON key) with Nylas"),
    ("credential microsoft", "Register an Azure app for Microsoft admin consent"),
    ("credential rotate <name>", "Give Nylas a credential's new client secret or key"),
    ("credentials [google|microsoft]", "List the registered credentials"),
    ("consent [credential]", "Get a Microsoft admin-consent link for a customer's tenant"),
    ("grants [credential]", "Create grants in bulk for a list of users"),
    (
        "revoke [credential | all]",
        "Delete the grants of a list of users (offboarding; approved first)",
    ),
    ("audit [email|@user|credential|run]", "Who did what: the audit log"),
    ("status", "Runs, pending consents and expiring secrets"),
    ("health [credential]", "Valid and invalid grants per credential; re-authenticate the invalid"),
    ("doctor [credential]", "Check everything bulk auth depends on, with the fix for each"),
    ("help", "This list"),
)


def build_help_message(*, not_understood: str | None = None) -> Message:
    lines = [f"`{CommandName.BULKAUTH} {usage}`  {meaning}" for usage, meaning in COMMANDS]
    heading = "*bulkauth* creates Nylas grants for whole organisations. Commands:"
    if not_understood:
        heading = f"Sorry, I did not understand `{escape(not_understood)}`. {heading}"
    text = heading + "\n" + "\n".join(lines)
    return Message(text=text, blocks=[markdown(text)])
