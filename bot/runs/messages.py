"""Modals and messages of bulk grant creation: request, plan, approval, progress, summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message, escape, markdown
from bot.blocks.elements import FileInputElement
from bot.blocks.metadata import ModalOrigin, PlanRef, RunRef
from bot.blocks.times import slack_time
from bot.ids import ActionId, BlockId, CallbackId
from bot.runs.emails import MAX_USER_FILE_BYTES
from bot.runs.plan import MAX_LISTED_INVALID, Plan
from storage.models import BulkRun, CredentialRecord, RunStatus

SKIP_EXISTING = "skip_existing"
START_WHEN_READY = "start_when_ready"
GOOGLE_SCOPES = {
    "https://www.googleapis.com/auth/gmail.readonly": "Gmail: read",
    "https://www.googleapis.com/auth/gmail.modify": "Gmail: read and modify",
    "https://www.googleapis.com/auth/gmail.send": "Gmail: send",
    "https://www.googleapis.com/auth/gmail.compose": "Gmail: compose",
    "https://www.googleapis.com/auth/calendar": "Calendar: full",
    "https://www.googleapis.com/auth/calendar.readonly": "Calendar: read",
    "https://www.googleapis.com/auth/calendar.events": "Calendar: events",
    "https://www.googleapis.com/auth/contacts": "Contacts: full",
    "https://www.googleapis.com/auth/contacts.readonly": "Contacts: read",
    "https://www.googleapis.com/auth/directory.readonly": "Directory: read",
}
PROGRESS_BAR_WIDTH = 20


def _credential_option(credential: CredentialRecord) -> Option:
    label = f"{credential.name} ({credential.provider.title()})"
    return Option(value=str(credential.id), text=label[:75])


def build_grants_modal(
    credentials: Sequence[CredentialRecord], selected: CredentialRecord | None, origin: ModalOrigin
) -> View:
    select = StaticSelectElement(
        action_id=ActionId.GRANTS_CREDENTIAL_CHOSEN,
        placeholder="Credential",
        options=[_credential_option(c) for c in credentials[:100]],
        initial_option=_credential_option(selected) if selected else None,
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.GRANTS_CREDENTIAL,
            label="Credential",
            element=select,
            dispatch_action=True,
        ),
        InputBlock(
            block_id=BlockId.GRANTS_USERS_TEXT,
            label="Users",
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.INPUT,
                multiline=True,
                max_length=3000,
                placeholder="ada@acme.com, bob@acme.com",
            ),
            hint="Separated by new lines, commas, semicolons or spaces. For long lists "
            "upload a file instead.",
        ),
        InputBlock(
            block_id=BlockId.GRANTS_USERS_FILE,
            label="…or a CSV/TXT file",
            optional=True,
            element=FileInputElement(action_id=ActionId.INPUT, filetypes=["csv", "txt"]),
            hint="A CSV with an email column, or one address per line; read whole, up to "
            f"{MAX_USER_FILE_BYTES // 1024**2} MB.",
        ),
    ]
    if selected is not None and selected.provider == "google":
        blocks += [
            InputBlock(
                block_id=BlockId.GRANTS_SCOPES,
                label="Scopes",
                optional=True,
                element=StaticMultiSelectElement(
                    action_id=ActionId.INPUT,
                    placeholder="Gmail, Calendar, Contacts…",
                    options=[
                        Option(value=scope, text=label) for scope, label in GOOGLE_SCOPES.items()
                    ],
                ),
            ),
            InputBlock(
                block_id=BlockId.GRANTS_EXTRA_SCOPES,
                label="Other scopes",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, placeholder="https://www.googleapis.com/…"
                ),
                hint="At least one scope in all; they must be delegated to the service "
                "account in Google Admin.",
            ),
        ]
    options = [Option(value=SKIP_EXISTING, text="Skip users who already have a valid grant")]
    if selected is not None and selected.provider == "microsoft":
        options.append(
            Option(value=START_WHEN_READY, text="Start automatically when the consent wait is over")
        )
    blocks.append(
        InputBlock(
            block_id=BlockId.GRANTS_OPTIONS,
            label="Options",
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.INPUT, options=options, initial_options=[options[0]]
            ),
        )
    )
    return View(
        type="modal",
        callback_id=CallbackId.GRANTS_REQUEST,
        title="Create grants",
        submit="Plan",
        close="Cancel",
        private_metadata=origin.dump(),
        blocks=blocks,
    )


def build_planning_view(count: int) -> View:
    return View(
        type="modal",
        title="Create grants",
        close="Close",
        blocks=[
            markdown(
                f":hourglass_flowing_sand: Checking {count:,} users against the grants Nylas "
                "already has…"
            )
        ],
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def plan_summary(plan: Plan, rate: float) -> str:
    existing = len(plan.existing_valid)
    lines = [
        f"*{escape(plan.credential_name)}* ({plan.provider.title()})"
        + (f", scopes: {', '.join(f'`{escape(s)}`' for s in plan.scopes)}" if plan.scopes else ""),
        f"• {plan.users.submitted:,} entries: {len(plan.users.emails):,} users, "
        f"{plan.users.duplicates:,} duplicates folded, {len(plan.users.invalid):,} invalid",
        f"• {len(plan.new):,} new users: grants will be created",
        f"• {existing:,} already have a valid grant: "
        + ("skipped" if plan.skip_existing else "re-authenticated"),
        f"• {len(plan.existing_invalid):,} have an invalid grant: re-authenticated",
        f"• {plan.calls:,} Nylas calls, about {_duration(plan.estimated_seconds(rate))} at "
        f"{rate:g} per second",
    ]
    if plan.start_after is not None:
        lines.append(
            f"• Starts automatically at {slack_time(plan.start_after)}, when the "
            "consent wait is over"
        )
    if plan.users.invalid:
        shown = ", ".join(
            f"`{escape(address)}`" for address in plan.users.invalid[:MAX_LISTED_INVALID]
        )
        more = len(plan.users.invalid) - MAX_LISTED_INVALID
        lines.append(f"Invalid addresses: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    return "\n".join(lines)


def build_plan_view(plan: Plan, *, rate: float, token: str, approval_channel: str | None) -> View:
    confirm = "Request approval" if approval_channel else "Start run"
    blocks: list[Block] = [
        markdown("*Dry run*: nothing has been created yet.\n" + plan_summary(plan, rate))
    ]
    if plan.calls == 0:
        blocks.append(markdown("There is nothing to do for these users."))
    else:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        action_id=ActionId.CONFIRM_PLAN,
                        text=confirm,
                        style="primary",
                        value=PlanRef(token=token).model_dump_json(),
                    )
                ]
            )
        )
        if approval_channel:
            blocks.append(
                ContextBlock(
                    elements=[
                        MarkdownTextObject(
                            text=f"An approver in <#{approval_channel}> must approve before "
                            "it starts."
                        )
                    ]
                )
            )
    return View(type="modal", title="Create grants", close="Close", blocks=blocks)


def build_status_view(text: str) -> View:
    return View(type="modal", title="Create grants", close="Close", blocks=[markdown(text)])


def build_approval_request(run: BulkRun, plan: Plan, *, rate: float) -> Message:
    assert run.id is not None
    ref = RunRef(run_id=run.id).model_dump_json()
    text = f"<@{run.requested_by}> asks to create grants (run {run.id}):"
    return Message(
        text=f"Run {run.id} awaits approval",
        blocks=[
            markdown(text + "\n" + plan_summary(plan, rate)),
            ActionsBlock(
                elements=[
                    ButtonElement(
                        action_id=ActionId.APPROVE_RUN, text="Approve", style="primary", value=ref
                    ),
                    ButtonElement(
                        action_id=ActionId.REJECT_RUN, text="Reject", style="danger", value=ref
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


def build_reject_reason_modal(ref: RunRef) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.REJECT_REASON,
        title="Reject run",
        submit="Reject",
        close="Back",
        private_metadata=ref.model_dump_json(),
        blocks=[
            InputBlock(
                block_id=BlockId.REJECT_REASON,
                label="Reason",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, multiline=True, max_length=1000
                ),
            )
        ],
    )


def progress_bar(done: int, total: int) -> str:
    filled = round(PROGRESS_BAR_WIDTH * done / total) if total else PROGRESS_BAR_WIDTH
    return "█" * filled + "░" * (PROGRESS_BAR_WIDTH - filled)


def build_progress(
    run: BulkRun, counts: Counter[str], *, rate: float | None, eta_seconds: float | None, state: str
) -> Message:
    assert run.id is not None
    done = sum(counts[s] for s in ("created", "reauthenticated", "skipped", "failed"))
    total = run.total
    lines = [
        f"*Run {run.id}* for *{escape(state)}*",
        f"`{progress_bar(done, total)}` {done:,}/{total:,}",
        f"created {counts['created']:,} · re-authenticated {counts['reauthenticated']:,} · "
        f"skipped {counts['skipped']:,} · failed {counts['failed']:,}",
    ]
    if rate is not None:
        eta = f", about {_duration(eta_seconds)} left" if eta_seconds is not None else ""
        lines.append(f"{rate:.1f} per second{eta}")
    blocks: list[Block] = [markdown("\n".join(lines))]
    if run.status in ("running", "approved", "waiting_for_consent", "awaiting_approval"):
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
    if cancelled_by:
        headline = f":octagonal_sign: Run {run.id} was cancelled by <@{cancelled_by}>."
    elif cancelled:  # written again later, when who cancelled is no longer at hand
        headline = f":octagonal_sign: Run {run.id} was cancelled."
    else:
        headline = f":checkered_flag: Run {run.id} finished."
    lines = [
        headline,
        f"created {counts['created']:,} · re-authenticated {counts['reauthenticated']:,} · "
        f"skipped {counts['skipped']:,} · failed {counts['failed']:,}"
        + (f" · not sent {counts['pending'] + counts['in_progress']:,}" if cancelled else ""),
    ]
    if failures:
        lines.append("Failures by reason:")
        lines += [
            f"• {count:,} × {escape(reason[:200])}" for reason, count in failures.most_common(10)
        ]
    if csv_sent:
        lines.append("Every user's outcome is in the CSV in this thread.")
        return Message(text=headline, blocks=[markdown("\n".join(lines))])
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
            )
        ]
    )
    return Message(text=headline, blocks=[markdown("\n".join(lines)), resend])
