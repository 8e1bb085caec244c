"""The credential-deletion modal: counting what depends on the credential, then the form (its
name typed to confirm, a reason), then where the request went."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks import escape, markdown
from bot.blocks.metadata import DeletionRef
from bot.ids import ActionId, BlockId, CallbackId
from bot.runs.modals import reason_input
from storage.models import CredentialRecord

TITLE = "Delete credential"


def build_counting_view(credential: CredentialRecord) -> View:
    return View(
        type="modal",
        title=TITLE,
        close="Close",
        blocks=[
            markdown(
                f":hourglass_flowing_sand: Counting the grants that depend on "
                f"*{escape(credential.name)}*…"
            )
        ],
    )


def build_deletion_form(credential: CredentialRecord, ref: DeletionRef) -> View:
    name = escape(credential.name)
    facts = (
        f"*{name}* ({credential.provider.title()}, `{escape(credential.nylas_credential_id)}`)\n"
        f"• *{ref.at_nylas:,} grants* at Nylas use it: they all stop working at once\n"
        f"• the bot's runs gave {ref.by_bot:,} mailboxes a grant with it\n"
        ":warning: Deleting a credential cannot be undone. Another approver must approve "
        "(never you)."
    )
    return View(
        type="modal",
        callback_id=CallbackId.DELETE_CREDENTIAL,
        title=TITLE,
        submit="Request deletion",
        close="Cancel",
        private_metadata=ref.model_dump_json(),
        blocks=[
            markdown(facts),
            InputBlock(
                block_id=BlockId.CONFIRM_NAME,
                label="Type the credential's name to confirm",
                element=PlainTextInputElement(action_id=ActionId.INPUT, max_length=120),
            ),
            reason_input(
                "Acme left (ticket OPS-789)",
                block_id=BlockId.DELETE_REASON,
                hint="Required: shown to approvers and kept in the audit.",
            ),
        ],
    )


def build_deletion_status(text: str) -> View:
    return View(type="modal", title=TITLE, close="Close", blocks=[markdown(text)])
