"""Modal and messages of the Microsoft admin-consent flow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message, context, escape, markdown
from bot.blocks.metadata import ConsentRef, CredentialRef, ModalOrigin
from bot.blocks.times import slack_date_time, slack_time
from bot.ids import ActionId, BlockId, CallbackId
from bot.nylas.consent import COMMON_TENANT
from storage.models import CredentialRecord

MAX_OPTIONS = 100


def _is_common(credential: CredentialRecord) -> bool:
    return (credential.tenant or COMMON_TENANT).lower() == COMMON_TENANT


def _option(credential: CredentialRecord) -> Option:
    label = f"{credential.name} ({credential.tenant or COMMON_TENANT})"
    return Option(value=str(credential.id), text=label[:75])


def build_consent_modal(
    credentials: Sequence[CredentialRecord], selected: CredentialRecord | None, origin: ModalOrigin
) -> View:
    shown = list(credentials[:MAX_OPTIONS])
    if selected is not None and selected not in shown:  # Slack wants the chosen one offered
        shown[-1] = selected
    options = [_option(credential) for credential in shown]
    select = StaticSelectElement(
        action_id=ActionId.CONSENT_CREDENTIAL_CHOSEN,
        options=options,
        placeholder="Microsoft credential",
        initial_option=_option(selected) if selected else None,
    )
    blocks: list[Block] = [
        markdown(
            "Get a link for the customer's Microsoft admin. When they approve, the bot "
            "tells this channel, and reminds you when the 5-minute propagation wait is "
            "over."
        ),
        InputBlock(
            block_id=BlockId.CONSENT_CREDENTIAL,
            label="Credential",
            element=select,
            dispatch_action=True,
        ),
    ]
    if selected is not None and _is_common(selected):
        blocks.append(
            context(
                "Tenant `common`: the scopes come from the Azure app's API "
                "permissions, so they cannot be overridden here."
            )
        )
    elif selected is not None:
        blocks.append(
            InputBlock(
                block_id=BlockId.CONSENT_SCOPES,
                label="Scope override (optional)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT,
                    multiline=True,
                    max_length=2000,
                    placeholder="https://graph.microsoft.com/Mail.Read",
                ),
                hint="Microsoft Graph application scopes, one per line. Leave empty for the Azure "
                "app's own.",
            )
        )
    return View(
        type="modal",
        callback_id=CallbackId.CONSENT_LINK,
        title="Admin consent",
        submit="Get link",
        close="Cancel",
        private_metadata=origin.dump(),
        blocks=blocks,
    )


def build_no_consent_credentials_message() -> Message:
    text = (
        "There is no Microsoft credential to get consent for. Register one with "
        "`/bulkauth credential microsoft` first."
    )
    return Message(text=text, blocks=[markdown(text)])


def build_consent_link_message(
    *,
    credential: CredentialRecord,
    requested_by: str,
    url: str,
    expires_at: datetime,
    consent_id: int,
    callback_reachable: bool,
    outcome: str | None = None,
) -> Message:
    scope_note = (
        "scopes from the Azure app"
        if _is_common(credential)
        else f"tenant `{escape(credential.tenant or '')}` only"
    )
    text = (
        f"Admin consent link for *{escape(credential.name)}* ({scope_note}), asked by "
        f"<@{requested_by}>. Forward it to the customer's Microsoft admin; it works once "
        f"and expires {slack_date_time(expires_at)}. The link is below and behind the button."
    )
    blocks: list[Block] = [markdown(text), markdown(f"```{url}```")]
    if not callback_reachable:
        blocks.append(
            context(
                ":warning: PUBLIC_BASE_URL is not set, so the bot cannot receive "
                "Nylas's callback. When the admin has approved, press *Consent was "
                "granted*."
            )
        )
    if outcome:
        blocks.append(markdown(outcome))
    else:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(action_id=ActionId.OPEN_URL, text="Open consent page", url=url),
                    ButtonElement(
                        action_id=ActionId.CONSENT_GRANTED_MANUALLY,
                        text="Consent was granted",
                        value=ConsentRef(consent_id=consent_id).model_dump_json(),
                    ),
                ]
            )
        )
    return Message(text=f"Admin consent link for {escape(credential.name)}", blocks=blocks)


def build_consent_granted_reply(
    *, credential: CredentialRecord, consented_by: str, consented_at: datetime, ready_at: datetime
) -> Message:
    text = (
        f":white_check_mark: Admin consent for *{escape(credential.name)}* was granted "
        f"({escape(consented_by)}, {slack_time(consented_at)}). Microsoft needs time to "
        f"propagate it: grants can be created from *{slack_time(ready_at)}*. I will post "
        "here when the wait is over."
    )
    return Message(text=text, blocks=[markdown(text)])


def build_consent_failed_reply(*, credential: CredentialRecord, error: str) -> Message:
    text = (
        f":x: Admin consent for *{escape(credential.name)}* failed: {escape(error)}\n"
        "Ask the admin to try again from a fresh link (`/bulkauth consent "
        f"{escape(credential.name)}`)."
    )
    return Message(text=text, blocks=[markdown(text)])


def build_consent_outcome_line(*, granted: bool, by: str, at: datetime) -> str:
    if granted:
        return f":white_check_mark: Consent recorded ({escape(by)}, {slack_time(at)})."
    return f":x: Consent failed ({slack_time(at)}); see the thread."


def build_consent_reminder(*, credential: CredentialRecord, requested_by: str) -> Message:
    text = (
        f"<@{requested_by}> the propagation wait for *{escape(credential.name)}* is over: "
        f"you can create grants now with `/bulkauth grants {escape(credential.name)}`."
    )
    assert credential.id is not None
    button = ButtonElement(
        action_id=ActionId.OPEN_GRANTS_MODAL,
        text="Create grants",
        style="primary",
        value=CredentialRef(credential_id=credential.id).model_dump_json(),
    )
    return Message(text=text, blocks=[markdown(text), ActionsBlock(elements=[button])])
