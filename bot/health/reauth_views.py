"""The re-authentication plan's modal: "looking up", the dry-run plan with its reason field,
and a status. Pure builders."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
)
from slack_sdk.models.views import View

from bot.blocks import context, escape, markdown
from bot.blocks.metadata import PlanRef
from bot.ids import BlockId, CallbackId
from bot.runs.modals import reason_input
from bot.runs.plan import Plan, plan_summary

TITLE = "Re-authenticate"
MAX_LISTED = 10


def build_looking_up_view(credential_name: str) -> View:
    text = (
        f":hourglass_flowing_sand: Looking up the invalid grants of *{escape(credential_name)}* "
        "at Nylas…"
    )
    return View(type="modal", title=TITLE, close="Close", blocks=[markdown(text)])


def build_reauth_status_view(text: str) -> View:
    return View(type="modal", title=TITLE, close="Close", blocks=[markdown(text)])


def build_reauth_plan_view(
    plan: Plan,
    *,
    rate: float,
    token: str,
    approval_channel: str | None,
    notes: tuple[str, ...] = (),
) -> View:
    """The plan, who is in it (the first few), and the reason the request needs."""
    emails = list(plan.existing_invalid)
    shown = ", ".join(f"`{escape(email)}`" for email in emails[:MAX_LISTED])
    more = len(emails) - MAX_LISTED
    who = f"Users: {shown}" + (f" and {more:,} more" if more > 0 else "")
    blocks: list[Block] = [
        markdown(
            "*Dry run*: nothing has been sent yet.\n"
            + plan_summary(plan, rate)
            + "".join(f"\n{note}" for note in notes)
        ),
        markdown(who),
        reason_input(
            "The client secret was renewed (ticket OPS-456)", block_id=BlockId.REAUTH_REASON
        ),
    ]
    if approval_channel:
        blocks.append(
            context(f"An approver in <#{approval_channel}> must approve before it starts.")
        )
    return View(
        type="modal",
        callback_id=CallbackId.REAUTH_PLAN,
        title=TITLE,
        submit="Request approval" if approval_channel else "Start run",
        close="Cancel",
        private_metadata=PlanRef(token=token).model_dump_json(),
        blocks=blocks,
    )
