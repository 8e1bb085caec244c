"""`/bulkauth credentials`: Nylas's credentials with who registered each here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.blocks import MAX_MESSAGE_BLOCKS, Message, escape, markdown, packed_sections
from bot.credentials.messages import PROVIDER_LABELS
from bot.ids import CommandName

LIST_HINT = "; `bulkauth` in a terminal lists them all"


@dataclass(frozen=True)
class CredentialLine:
    provider: str
    name: str
    credential_id: str
    created: datetime | None
    registered_by: str | None = None
    consent: str | None = None


def _line(entry: CredentialLine) -> str:
    when = f" on {entry.created:%Y-%m-%d}" if entry.created else ""
    who = f" by <@{entry.registered_by}>" if entry.registered_by else " (not registered here)"
    consent = f" · consent: {entry.consent}" if entry.consent else ""
    return (
        f"*{escape(entry.name)}* · {PROVIDER_LABELS.get(entry.provider, entry.provider)} · "
        f"`{entry.credential_id}` · registered{who}{when}{consent}"
    )


def build_credentials_list(entries: Sequence[CredentialLine], *, provider: str | None) -> Message:
    scope = f"{PROVIDER_LABELS[provider]} " if provider else ""
    if not entries:
        text = (
            f"No {scope}credentials yet. Add one with `{CommandName.BULKAUTH} credential "
            "google` or `{0} credential microsoft`.".replace("{0}", CommandName.BULKAUTH)
        )
        return Message(text=text, blocks=[markdown(text)])
    lines = [_line(entry) for entry in entries]
    heading = f"*{len(entries)} {scope}credential{'s' if len(entries) != 1 else ''}*, newest first"
    blocks: list[Block] = [markdown(heading)]
    blocks += packed_sections(lines, most=MAX_MESSAGE_BLOCKS - 1, more_hint=LIST_HINT)
    return Message(text=heading + "\n" + "\n".join(lines[:20]), blocks=blocks)
