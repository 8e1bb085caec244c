"""The alert message: one per credential and window, edited in place as counts grow."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
)

from bot.blocks import Message, context, escape, markdown
from bot.blocks.metadata import DbId, Ref
from bot.ids import ActionId


class AlertRef(Ref):
    """A button that acts on one grant alert."""

    alert_id: DbId


def slack_date(moment: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """Shown in each reader's own time zone, with UTC as the fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{style}|{fallback}>"


def headline(name: str, expired: int, deleted: int) -> str:
    """ "312 grants of acme.com expired" (and how many were deleted)."""
    noun = "grant" if (expired or deleted) == 1 else "grants"
    if expired and deleted:
        return f"{expired:,} {noun} of {name} expired and {deleted:,} were deleted"
    if deleted:
        return f"{deleted:,} {noun} of {name} {'was' if deleted == 1 else 'were'} deleted"
    return f"{expired:,} {noun} of {name} expired"


def alert_message(
    *,
    alert_id: int,
    credential_name: str,
    expired: int,
    deleted: int,
    window_start: datetime,
    window_seconds: float,
    cause: str,
    muted_until: datetime | None = None,
    muted_by: str | None = None,
) -> Message:
    name = escape(credential_name)
    minutes = window_seconds / 60
    span = "minute" if minutes == 1 else f"{minutes:g} minutes"
    since = f"in the {span} from {slack_date(window_start)}"
    text = headline(name, expired, deleted)
    blocks: list[Block] = [markdown(f":warning: *{text}* {since}\nLikely cause: {cause}.")]
    if muted_until is not None:
        by = f" by <@{muted_by}>" if muted_by else ""
        note = f":mute: Alerts of {name} muted until {slack_date(muted_until)}{by}; still audited."
        blocks.append(context(note))
    value = AlertRef(alert_id=alert_id).model_dump_json()
    mute_confirm = ConfirmObject(
        title="Mute for a day?",
        text=(
            f"No new alert messages for {name} for 24 hours. Its grant events are still "
            "audited and counted."
        ),
        confirm="Mute",
        deny="Cancel",
    )
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Re-authenticate these",
                    action_id=ActionId.REAUTHENTICATE_ALERT,
                    value=value,
                    style="primary",
                ),
                ButtonElement(text="Show list", action_id=ActionId.SHOW_ALERT_LIST, value=value),
                ButtonElement(
                    text="Mute for a day",
                    action_id=ActionId.MUTE_ALERTS,
                    value=value,
                    confirm=mute_confirm,
                ),
            ]
        )
    )
    return Message(text=text, blocks=blocks)
