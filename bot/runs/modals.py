"""The request modal and the views it turns into: planning, the dry-run plan, a status; and
the rejection reason modal."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import context, markdown
from bot.blocks.elements import FileInputElement
from bot.blocks.metadata import ModalOrigin, PlanRef, RunRef
from bot.ids import ActionId, BlockId, CallbackId
from bot.nylas.scopes import GOOGLE_SCOPES
from bot.runs.emails import MAX_USER_FILE_BYTES
from bot.runs.plan import Plan, plan_summary
from bot.runs.policy import MAX_REASON_LENGTH
from storage.models import CredentialRecord

SKIP_EXISTING = "skip_existing"
START_WHEN_READY = "start_when_ready"


def credential_option(credential: CredentialRecord) -> Option:
    label = f"{credential.name} ({credential.provider.title()})"
    return Option(value=str(credential.id), text=label[:75])


def users_inputs() -> list[Block]:
    """The users of a run (grant or revoke): pasted, or a CSV/TXT file read like one."""
    return [
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


RUN_REASON_HINT = "Required: shown to approvers, in the progress message, the CSV and the audit."


def reason_input(
    placeholder: str, *, block_id: str = BlockId.GRANTS_REASON, hint: str = RUN_REASON_HINT
) -> InputBlock:
    """The required reason of a request (a run, a re-authentication, a deletion)."""
    return InputBlock(
        block_id=block_id,
        label="Reason",
        element=PlainTextInputElement(
            action_id=ActionId.INPUT,
            max_length=MAX_REASON_LENGTH,
            placeholder=placeholder,
        ),
        hint=hint,
    )


def build_grants_modal(
    credentials: Sequence[CredentialRecord], selected: CredentialRecord | None, origin: ModalOrigin
) -> View:
    select = StaticSelectElement(
        action_id=ActionId.GRANTS_CREDENTIAL_CHOSEN,
        placeholder="Credential",
        options=[credential_option(c) for c in credentials[:100]],
        initial_option=credential_option(selected) if selected else None,
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.GRANTS_CREDENTIAL,
            label="Credential",
            element=select,
            dispatch_action=True,
        ),
        *users_inputs(),
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
    blocks.append(reason_input("Onboarding Acme's sales team (ticket OPS-123)"))
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


def build_plan_view(plan: Plan, *, rate: float, token: str, approval_channel: str | None) -> View:
    """The dry run with its confirm button; a revocation always asks for approval (in the
    approval channel, else from another approver in a direct message)."""
    confirm = "Request approval" if approval_channel or plan.revokes else "Start run"
    title = "Revoke grants" if plan.revokes else "Create grants"
    nothing_yet = "nothing has been deleted yet" if plan.revokes else "nothing has been created yet"
    blocks: list[Block] = [markdown(f"*Dry run*: {nothing_yet}.\n" + plan_summary(plan, rate))]
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
        where = f"in <#{approval_channel}>" if approval_channel else "in a direct message"
        if approval_channel or plan.revokes:
            blocks.append(
                context(
                    f"An approver {where} must approve before it starts"
                    + (" (never the requester)." if plan.revokes else ".")
                )
            )
    return View(type="modal", title=title, close="Close", blocks=blocks)


def build_status_view(text: str) -> View:
    return View(type="modal", title="Create grants", close="Close", blocks=[markdown(text)])


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
