"""Messages of a bulk run: the plan's summary, the approval request, progress and summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject

from bot.blocks import Message, escape, markdown
from bot.blocks.metadata import RunRef
from bot.blocks.times import duration, slack_time
from bot.ids import ActionId
from bot.runs.controls import undo_button, who
from bot.runs.kinds import kind_request, kind_verb, run_title
from bot.runs.plan import Plan, plan_summary
from bot.runs.policy import approvals_line
from storage.models import (
    FINISHED_ITEM_STATUSES,
    UNSENT_ITEM_STATUSES,
    BulkRun,
    ItemStatus,
    RequestKind,
    RunStatus,
)
from storage.runs import ACTIVE_RUN_STATUSES

PROGRESS_BAR_WIDTH = 20
_LABELS = {
    ItemStatus.CREATED: "created",
    ItemStatus.REAUTHENTICATED: "re-authenticated",
    ItemStatus.SKIPPED: "skipped",
    ItemStatus.FAILED: "failed",
    ItemStatus.REVOKED: "revoked",
}


def request_text(run: BulkRun, plan: Plan, *, rate: float) -> str:
    """The approval request's summary: who asks, why, and the plan."""
    return (
        f"<@{run.requested_by}> asks to {kind_request(run.kind)} (run {run.id}):\n"
        f"{reason_line(run)}\n{plan_summary(plan, rate)}"
    )


def reason_line(run: BulkRun) -> str:
    return f"*Reason:* {escape(run.reason)}" if run.reason else "*Reason:* (none given)"


def build_approval_request(
    run: BulkRun, summary: str, *, calls: int, approvers: Sequence[str] = ()
) -> Message:
    """The request with its buttons; `approvers` are the names of those who approved so far."""
    assert run.id is not None
    ref = RunRef(run_id=run.id).model_dump_json()
    status = approvals_line([escape(name) for name in approvers], run.approvals_required)
    name = escape(run.credential_name)
    question = {
        RequestKind.REVOKE: f"Delete {calls:,} grants of {name}? This is permanent.",
        RequestKind.DELETE_CREDENTIAL: f"Delete the credential {name}? "
        "Its grants stop working at once.",
    }.get(RequestKind(run.kind), f"{kind_verb(run.kind).capitalize()} {calls:,} grants for {name}?")
    approve = ConfirmObject(
        title=f"Approve run {run.id}?",
        text=question,
        confirm="Approve",
        deny="Not yet",
    )
    reject = ConfirmObject(
        title=f"Reject run {run.id}?",
        text="Nothing will be created; you will be asked for a reason.",
        confirm="Reject",
        deny="Not yet",
        style="danger",
    )
    return Message(
        text=f"Run {run.id} awaits approval",
        blocks=[
            markdown(summary),
            markdown(f":ballot_box_with_check: {status}"),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        action_id=ActionId.APPROVE_RUN,
                        text="Approve",
                        style="primary",
                        value=ref,
                        confirm=approve,
                    ),
                    ButtonElement(
                        action_id=ActionId.REJECT_RUN,
                        text="Reject",
                        style="danger",
                        value=ref,
                        confirm=reject,
                    ),
                    cancel_button(run, awaiting=True),
                ]
            ),
        ],
    )


def cancel_button(run: BulkRun, *, awaiting: bool) -> ButtonElement:
    """Cancel a run (its progress message) or withdraw a request (its approval message); Slack
    asks the person to confirm first."""
    assert run.id is not None
    consequence = (
        "Nothing has been created; the request is withdrawn."
        if awaiting
        else "Users not yet sent get no grant; grants already created stay."
    )
    return ButtonElement(
        action_id=ActionId.CANCEL_RUN,
        text="Cancel request" if awaiting else "Cancel",
        value=RunRef(run_id=run.id).model_dump_json(),
        confirm=ConfirmObject(
            title=f"Cancel run {run.id}?",
            text=consequence,
            confirm="Cancel run",
            deny="Keep it",
            style="danger",
        ),
    )


def build_decided_request(run: BulkRun, summary: str, outcome: str) -> Message:
    """The approval request with its buttons replaced by the decision."""
    return Message(text=f"Run {run.id}: {outcome}", blocks=[markdown(summary), markdown(outcome)])


def approval_outcome(*, approved: bool, by: str, at: datetime, reason: str | None = None) -> str:
    if approved:
        return f":white_check_mark: Approved by <@{by}> at {slack_time(at)}."
    why = f" Reason: {escape(reason)}" if reason else ""
    return f":no_entry: Rejected by <@{by}> at {slack_time(at)}.{why}"


def finished_counts(counts: Counter[str]) -> str:
    """created 3 · re-authenticated 1 · skipped 0 · failed 2 (and "revoked N" when there are)"""
    return " · ".join(
        f"{_LABELS[status]} {counts[status]:,}"
        for status in FINISHED_ITEM_STATUSES
        if status != ItemStatus.REVOKED or counts[status]
    )


def progress_bar(done: int, total: int) -> str:
    filled = round(PROGRESS_BAR_WIDTH * done / total) if total else PROGRESS_BAR_WIDTH
    return "█" * filled + "░" * (PROGRESS_BAR_WIDTH - filled)


def build_progress(
    run: BulkRun, counts: Counter[str], *, rate: float | None, eta_seconds: float | None, state: str
) -> Message:
    """Run 12 · acme.com · 1,204 / 4,812 (25 %) · about 2 min 00 s left"""
    assert run.id is not None
    done = sum(counts[status] for status in FINISHED_ITEM_STATUSES)
    total = run.total
    percent = int(100 * done / total) if total else 100
    headline = [f"*{run_title(run.kind, run.id)}*"]
    if run.credential_name:
        headline.append(escape(run.credential_name))
    headline.append(f"{done:,} / {total:,} ({percent} %)")
    if rate is not None and eta_seconds is not None:
        headline.append(f"about {duration(eta_seconds)} left")
    if state != "running":
        headline.append(escape(state))
    lines = [
        " · ".join(headline),
        f"`{progress_bar(done, total)}`",
        finished_counts(counts),
    ]
    if rate is not None:
        lines.append(f"{rate:.1f} per second")
    if run.reason:
        lines.append(reason_line(run))
    blocks: list[Block] = [markdown("\n".join(lines))]
    if run.status in ACTIVE_RUN_STATUSES:
        blocks.append(ActionsBlock(elements=[cancel_button(run, awaiting=False)]))
    return Message(text=f"Run {run.id}: {done:,}/{total:,}", blocks=blocks)


def build_summary(
    run: BulkRun,
    counts: Counter[str],
    failures: Counter[str],
    *,
    cancelled_by: str | None = None,
    csv_sent: bool = True,
) -> Message:
    cancelled = cancelled_by is not None or run.status == RunStatus.CANCELLED
    title = run_title(run.kind, run.id)
    if cancelled_by:
        headline = f":octagonal_sign: {title} was cancelled by {who(cancelled_by)}."
    elif cancelled:  # written again later, when who cancelled is no longer at hand
        headline = f":octagonal_sign: {title} was cancelled."
    else:
        headline = f":checkered_flag: {title} finished."
    lines = [
        headline,
        finished_counts(counts)
        + (f" · not sent {sum(counts[s] for s in UNSENT_ITEM_STATUSES):,}" if cancelled else ""),
    ]
    if failures:
        lines.append("Failures by reason:")
        lines += [
            f"• {count:,} × {escape(reason[:400])}" for reason, count in failures.most_common(10)
        ]
    undo = undo_button(run, counts)
    if csv_sent:
        lines.append("Every user's outcome is in the CSV in this thread.")
        blocks: list[Block] = [markdown("\n".join(lines))]
        return Message(
            text=headline, blocks=blocks + ([ActionsBlock(elements=[undo])] if undo else [])
        )
    lines.append(
        ":warning: The CSV of every user's outcome could not be sent to Slack. Send it again "
        f"below, or write it from the database: `bulkauth runs csv {run.id} > run-{run.id}.csv`"
    )
    resend = ActionsBlock(
        elements=[
            ButtonElement(
                action_id=ActionId.SEND_RUN_CSV,
                text="Send CSV again",
                value=RunRef(run_id=run.id).model_dump_json(),
            ),
            *([undo] if undo else []),
        ]
    )
    return Message(text=headline, blocks=[markdown("\n".join(lines)), resend])
