"""The rotation modals, their outcome, and the expiry reminder with its "Rotate now" button
(pure Block Kit builders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DatePickerElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message, context, escape, markdown
from bot.blocks.metadata import CredentialRef, RotationOrigin
from bot.credentials.messages import key_inputs
from bot.health.messages import reauth_button
from bot.ids import ActionId, BlockId, CallbackId, CommandName
from bot.lifecycle.thresholds import Threshold
from storage.models import CredentialRecord

AZURE_SECRETS = "Azure portal → App registrations → your app → Certificates & secrets"
GOOGLE_KEYS = "Google Cloud console → IAM & Admin → Service accounts → your account → Keys"


def _text_input(
    block_id: str, label: str, *, max_length: int, hint: str | None = None
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        element=PlainTextInputElement(action_id=ActionId.INPUT, max_length=max_length),
        hint=hint,
    )


def build_microsoft_rotation_modal(record: CredentialRecord, origin: RotationOrigin) -> View:
    """The new client secret and its expiry; the tenant and client id are asked for only when
    the bot does not know them (a credential recorded without them)."""
    known = []
    if record.tenant:
        known.append(f"tenant `{escape(record.tenant)}`")
    if record.client_id:
        known.append(f"app `{escape(record.client_id)}`")
    blocks: list[Block] = [
        markdown(
            f"Rotate the client secret of *{escape(record.name)}*"
            + (f" ({', '.join(known)})" if known else "")
            + ". Nylas replaces a credential's data whole, so the bot sends the tenant and "
            "client id it keeps together with the new secret."
        )
    ]
    if not record.tenant:
        blocks.append(
            _text_input(
                BlockId.TENANT,
                "Tenant",
                max_length=255,
                hint="The bot did not record it: the tenant this credential was registered with.",
            )
        )
    if not record.client_id:
        blocks.append(
            _text_input(
                BlockId.CLIENT_ID,
                "Azure app client id",
                max_length=64,
                hint="The bot did not record it: the Application (client) ID of the app.",
            )
        )
    blocks += [
        _text_input(
            BlockId.CLIENT_SECRET,
            "New client secret",
            max_length=255,
            hint=f"Its value, not its id ({AZURE_SECRETS}).",
        ),
        InputBlock(
            block_id=BlockId.SECRET_EXPIRES_ON,
            label="New secret expires on",
            element=DatePickerElement(action_id=ActionId.INPUT),
            hint="The bot reminds you 30, 7 and 1 days before and on the day.",
        ),
        context(
            "The secret is tried with Microsoft first (not possible for tenant `common`); "
            "it goes to Nylas only and is never stored by the bot."
        ),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.ROTATE_MICROSOFT,
        title="Rotate secret",
        submit="Rotate",
        close="Cancel",
        private_metadata=origin.model_dump_json(),
        blocks=blocks,
    )


def build_google_rotation_modal(record: CredentialRecord, origin: RotationOrigin) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.ROTATE_GOOGLE,
        title="Rotate key",
        submit="Rotate",
        close="Cancel",
        private_metadata=origin.model_dump_json(),
        blocks=[
            markdown(
                f"Rotate the key of *{escape(record.name)}*: service account "
                f"`{escape(record.client_email or 'unknown')}`, key "
                f"`{escape(record.private_key_id or 'unknown')}` now. Give a new JSON key of "
                f"the *same* service account ({GOOGLE_KEYS} → Add key), as a file or pasted."
            ),
            *key_inputs(new=True),
            context(
                "The key is tried with Google first and goes to Nylas only; the bot keeps its "
                "id, never the private key. Delete the old key in Google Cloud once this is done."
            ),
        ],
    )


@dataclass(frozen=True)
class Rotated:
    record: CredentialRecord
    change: str  # what changed, in words (no secret)
    check: str  # passed, not possible, unreachable
    note: str = ""  # e.g. the uploaded key file was deleted


def build_rotated_message(result: Rotated) -> Message:
    record = result.record
    checked = {
        "passed": "The new one was tried with the provider first.",
        "not possible": "Tenant `common` cannot be tried with Microsoft before use.",
        "unreachable": "The provider could not be asked, so the new one was not tried first.",
    }.get(result.check, "")
    text = "\n".join(
        line
        for line in (
            f":white_check_mark: Rotated *{escape(record.name)}* at Nylas: {result.change}.",
            checked,
            "Grants of this credential that went invalid need re-authentication (the button, "
            f"or `{CommandName.BULKAUTH} health {escape(record.name)}` to see them first).",
            result.note,
        )
        if line
    )
    assert record.id is not None
    return Message(
        text=text,
        blocks=[markdown(text), ActionsBlock(elements=[reauth_button(record.id, None)])],
    )


def build_rotation_failed(name: str, reason: str) -> str:
    return (
        f":x: *{escape(name)}* was not rotated: {reason}\nNothing changed at Nylas; the "
        f"current secret or key keeps working. Try `{CommandName.BULKAUTH} credential rotate "
        f"{escape(name)}` again."
    )


def _when(threshold: Threshold, now: datetime) -> str:
    days = (threshold.due.date() - now.date()).days
    day = f"{threshold.due:%Y-%m-%d}"
    if days > 1:
        return f"in {days} days (on {day})"
    if days == 1:
        return f"tomorrow ({day})"
    if days == 0:
        return f"today ({day})"
    return f"{-days} day{'s' if days < -1 else ''} ago ({day})"


def build_expiry_reminder(
    record: CredentialRecord, threshold: Threshold, *, now: datetime, key_max_age_days: int
) -> Message:
    """The DM to whoever registered the credential and the alert channel's message."""
    when = _when(threshold, now)
    past = threshold.due.date() < now.date()
    if threshold.kind == "secret":
        head = (
            f":warning: The client secret of Microsoft credential *{escape(record.name)}* "
            f"{'expired' if past else 'expires'} {when}. Its grants go "
            "invalid when it does."
        )
        how = f"Make a new secret ({AZURE_SECRETS}), then *Rotate now*."
    else:
        head = (
            f":warning: The key of Google credential *{escape(record.name)}* (service account "
            f"`{escape(record.client_email or '')}`) "
            f"{'reached' if past else 'reaches'} the "
            f"{key_max_age_days}-day rotation age {when}."
        )
        how = f"Add a new key ({GOOGLE_KEYS}), then *Rotate now*, then delete the old key."
    text = f"{head}\n{how} Registered by <@{record.registered_by}>."
    button = ButtonElement(
        action_id=ActionId.ROTATE_CREDENTIAL,
        text="Rotate now",
        style="primary",
        value=CredentialRef(credential_id=record.id).model_dump_json(),
    )
    return Message(text=text, blocks=[markdown(text), ActionsBlock(elements=[button])])
