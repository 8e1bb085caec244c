"""Cancel and Resume buttons for the runs a listing shows (`/bulkauth status`, the App Home):
each names its run, and Slack asks to confirm before anything happens."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject

from bot.blocks.metadata import RunRef
from bot.home.dashboard import RunLine
from bot.ids import ActionId
from bot.runs.messages import cancel_button
from storage.models import RunStatus
from storage.runs import ACTIVE_RUN_STATUSES

MAX_CONTROLLED_RUNS = 12  # two buttons each within an actions block's 25 elements


def resume_button(run_id: int) -> ButtonElement:
    return ButtonElement(
        action_id=ActionId.RESUME_RUN,
        text=f"Resume run {run_id}",
        style="primary",
        value=RunRef(run_id=run_id).model_dump_json(),
        confirm=ConfirmObject(
            title=f"Resume run {run_id}?",
            text="The users that failed for the hold's reason are sent again, canary first.",
            confirm="Resume",
            deny="Keep it held",
        ),
    )


def run_controls(lines: Sequence[RunLine]) -> list[ActionsBlock]:
    """One actions block: Cancel for every active run shown (the oldest first), Resume for a
    held one; none when no run can be acted on."""
    elements: list[ButtonElement] = []
    active = [line for line in lines if line.run.status in ACTIVE_RUN_STATUSES]
    for line in active[:MAX_CONTROLLED_RUNS]:
        if line.run.status == RunStatus.HELD:
            elements.append(resume_button(line.run_id))
        awaiting = line.run.status == RunStatus.AWAITING_APPROVAL
        cancel = cancel_button(line.run, awaiting=awaiting)
        cancel.text.text = f"Cancel run {line.run_id}"  # type: ignore[union-attr]
        elements.append(cancel)
    return [ActionsBlock(elements=elements)] if elements else []
