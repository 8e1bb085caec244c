"""What a held run shows: why it stopped in plain words, the fix, and Resume / Cancel; and the
thread's one note while a Microsoft run waits for consent to propagate."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject

from bot.blocks import Message, escape, markdown
from bot.blocks.metadata import RunRef
from bot.blocks.times import slack_time
from bot.ids import ActionId
from bot.nylas.problems import by_code, delegation_link
from bot.runs.messages import build_progress, cancel_button
from storage.models import BulkRun

UNKNOWN_FIX = (
    "The table of known errors does not know this one: look at the error and its request id in "
    "the CSV or `/bulkauth audit run {run_id}`, fix the cause, then resume."
)


def hold_explanation(run: BulkRun, *, google_client_id: str | None = None) -> str:
    """Why the run is held and what to do, from the problem table (or the raw error)."""
    key, count = run.hold_reason or "unknown", run.hold_count or 1
    problem = by_code(key)
    users = f"{count:,} user{'s' if count != 1 else ''}"
    lines = [
        f":double_vertical_bar: *Run {run.id} is held*: {users} failed for the same reason, "
        "so no more users are sent."
    ]
    if problem is None:
        lines += [f"*Error:* {escape(key[:300])}", f"*Fix:* {UNKNOWN_FIX.format(run_id=run.id)}"]
    else:
        lines += [f"*Why:* {problem.reason}", f"*Fix:* {problem.fix}"]
    if problem is not None and problem.code == "delegation_missing" and google_client_id:
        link = delegation_link(google_client_id, run.scopes.split())
        lines.append(f"<{link}|Add this delegation in Google Admin> (prefilled)")
    lines.append(
        "*Resume* sends the users that failed for this reason again; *Cancel* ends the run."
    )
    return "\n".join(lines)


def build_held(
    run: BulkRun, counts: Counter[str], *, google_client_id: str | None = None
) -> Message:
    """The progress message of a held run: counts, the reason and fix, Resume and Cancel."""
    assert run.id is not None
    progress = build_progress(run, counts, rate=None, eta_seconds=None, state="held")
    resume = ButtonElement(
        action_id=ActionId.RESUME_RUN,
        text="Resume",
        style="primary",
        value=RunRef(run_id=run.id).model_dump_json(),
        confirm=ConfirmObject(
            title=f"Resume run {run.id}?",
            text="The users that failed for this reason are sent again, the first ones alone. "
            "Fix the cause first.",
            confirm="Resume",
            deny="Not yet",
        ),
    )
    return Message(
        text=f"Run {run.id} is held",
        blocks=[
            progress.blocks[0],
            markdown(hold_explanation(run, google_client_id=google_client_id)),
            ActionsBlock(elements=[resume, cancel_button(run, awaiting=False)]),
        ],
    )


def propagation_note(run: BulkRun, *, until: datetime) -> Message:
    text = (
        f":hourglass_flowing_sand: Run {run.id}: Microsoft says the admin consent has not "
        "propagated yet (this can take from seconds to well over 5 minutes). Its first user is "
        f"tried again after 1, 2, 4… minutes until {slack_time(until)}; the others wait. If it "
        "still fails then, the run is held."
    )
    return Message(text=text, blocks=[markdown(text)])
