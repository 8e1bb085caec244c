"""The revoke request modal: a credential (or all of them), the users (pasted or a file, read
like a grant run's) or, when undoing a run, that run's created grants; and a required reason."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import escape, markdown
from bot.blocks.metadata import RevokeOrigin
from bot.ids import ALL_CREDENTIALS_OPTION, ActionId, BlockId, CallbackId
from bot.runs.modals import credential_option, reason_input, users_inputs
from bot.runs.plan import ALL_CREDENTIALS
from storage.models import CredentialRecord

PERMANENT = (
    ":warning: *Deleting a grant is permanent.* The mailbox stops syncing at once; authenticating "
    "it again later makes a new grant with a new id. An expired or invalid grant needs "
    "*re-authentication* (`/bulkauth grants`), not deletion."
)


# First: when a person leaves, every grant of their mailboxes, whichever credential made it.
ALL_OPTION = Option(value=ALL_CREDENTIALS_OPTION, text=ALL_CREDENTIALS)


def build_revoke_modal(
    credentials: Sequence[CredentialRecord],
    selected: CredentialRecord | None,
    origin: RevokeOrigin,
    *,
    undo_users: int | None = None,
    all_selected: bool = False,
) -> View:
    """`undo_users`: the count of grants the run in `origin.undo_run_id` created (those users
    replace the user fields)."""
    blocks: list[Block] = [markdown(PERMANENT)]
    if origin.undo_run_id is not None and selected is not None:
        blocks.append(
            markdown(
                f"*Credential:* {escape(selected.name)} ({selected.provider.title()})\n"
                f"*Users:* the {undo_users or 0:,} users whose grants run {origin.undo_run_id} "
                "created (not those it re-authenticated or skipped)."
            )
        )
    else:
        blocks += [
            InputBlock(
                block_id=BlockId.REVOKE_CREDENTIAL,
                label="Credential",
                element=StaticSelectElement(
                    action_id=ActionId.INPUT,
                    placeholder="Credential",
                    options=[ALL_OPTION, *(credential_option(c) for c in credentials[:99])],
                    initial_option=ALL_OPTION
                    if all_selected
                    else (credential_option(selected) if selected else None),
                ),
                hint=f"{ALL_CREDENTIALS}: every grant of these users, whichever credential "
                "made it. A credential: only its grants.",
            ),
            *users_inputs(),
        ]
    blocks.append(reason_input("Acme's contract ended (ticket OPS-456)"))
    return View(
        type="modal",
        callback_id=CallbackId.REVOKE_REQUEST,
        title="Revoke grants",
        submit="Plan",
        close="Cancel",
        private_metadata=origin.model_dump_json(),
        blocks=blocks,
    )
