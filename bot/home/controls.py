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

# An actions block per run (Slack wants action ids unique within a block), so few enough to
# keep a status answer under 50 blocks and the Home under 100; the rest: `bulkauth runs cancel`.
MAX_CONTROLLED_RUNS = 5


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
    """An actions block per active run shown (the first `MAX_CONTROLLED_RUNS`): Cancel, and
    Resume for a held one; none when no run can be acted on."""
    blocks: list[ActionsBlock] = []
    active = [line for line in lines if line.run.status in ACTIVE_RUN_STATUSES]
    for line in active[:MAX_CONTROLLED_RUNS]:
        elements: list[ButtonElement] = []
        if line.run.status == RunStatus.HELD:
            elements.append(resume_button(line.run_id))
        awaiting = line.run.status == RunStatus.AWAITING_APPROVAL
        cancel = cancel_button(line.run, awaiting=awaiting)
        cancel.text.text = f"Cancel run {line.run_id}"  # type: ignore[union-attr]
        elements.append(cancel)
        blocks.append(ActionsBlock(elements=elements))
    return blocks
