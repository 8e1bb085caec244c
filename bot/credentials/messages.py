"""Modals and messages for registering and listing credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import Message, context, escape, markdown
from bot.blocks.elements import FileInputElement
from bot.blocks.metadata import CredentialRef, ModalOrigin, RetryToken
from bot.credentials.forms import MAX_NAME_LENGTH, USE_CONNECTOR_APP
from bot.ids import ActionId, BlockId, CallbackId, CommandName
from bot.nylas.scopes import GMAIL_READONLY, GOOGLE_SCOPES

PROVIDER_LABELS = {"google": "Google", "microsoft": "Microsoft"}

REGISTER_ANYWAY = "register_anyway"


def _name_input(hint: str) -> InputBlock:
    return InputBlock(
        block_id=BlockId.CREDENTIAL_NAME,
        label="Credential name",
        element=PlainTextInputElement(
            action_id=ActionId.INPUT, max_length=MAX_NAME_LENGTH, placeholder=hint
        ),
        hint="Unique per provider; the customer's domain works well.",
    )


def key_inputs(*, new: bool = False, placeholder: str | None = None) -> list[Block]:
    """A service account's JSON key (`new`: for a rotation), as a file or pasted."""
    what = "new JSON key" if new else "JSON key"
    file_label = "New JSON key file" if new else "JSON key file"
    return [
        InputBlock(
            block_id=BlockId.KEY_FILE,
            label=file_label,
            optional=True,
            element=FileInputElement(action_id=ActionId.INPUT, filetypes=["json"], max_files=1),
        ),
        InputBlock(
            block_id=BlockId.KEY_JSON,
            label=f"…or paste the {what}",
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.INPUT, multiline=True, max_length=3000, placeholder=placeholder
            ),
        ),
    ]


def build_google_credential_modal(origin: ModalOrigin) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.GOOGLE_CREDENTIAL,
        title="Google credential",
        submit="Register",
        close="Cancel",
        private_metadata=origin.dump(),
        blocks=[
            markdown(
                "Register a Google Workspace *service account* with domain-wide delegation. "
                "Give its JSON key *either* as a file *or* pasted."
            ),
            _name_input("acme.com"),
            *key_inputs(placeholder='{"type": "service_account", …}'),
            InputBlock(
                block_id=BlockId.TEST_MAILBOX,
                label="Test mailbox",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, max_length=254, placeholder="someone@acme.com"
                ),
                hint="A user of the customer's domain: the bot asks Google for a token as that "
                "user, once per scope, before anything is registered.",
            ),
            InputBlock(
                block_id=BlockId.TEST_SCOPES,
                label="Scopes to test",
                optional=True,
                element=StaticMultiSelectElement(
                    action_id=ActionId.INPUT,
                    options=[
                        Option(value=scope, text=label) for scope, label in GOOGLE_SCOPES.items()
                    ],
                    initial_options=[
                        Option(value=GMAIL_READONLY, text=GOOGLE_SCOPES[GMAIL_READONLY])
                    ],
                ),
            ),
            _register_anyway(),
            context(
                "The key goes to Nylas only; the bot keeps its id and client "
                "email, never the private key."
            ),
        ],
    )


def _scope_option(scope: str) -> Option:
    return Option(value=scope, text=GOOGLE_SCOPES[scope])


def _register_anyway() -> InputBlock:
    option = Option(value=REGISTER_ANYWAY, text="Register even if the check fails")
    return InputBlock(
        block_id=BlockId.REGISTER_ANYWAY,
        label="If the check fails",
        optional=True,
        element=CheckboxesElement(action_id=ActionId.INPUT, options=[option]),
        hint="The check's findings stay in the audit log.",
    )


def build_microsoft_credential_modal(origin: ModalOrigin) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.MICROSOFT_CREDENTIAL,
        title="Microsoft credential",
        submit="Register",
        close="Cancel",
        private_metadata=origin.dump(),
        blocks=[
            markdown(
                "Register an Azure app for Microsoft *admin consent*. A customer's admin "
                "will approve it for their tenant."
            ),
            _name_input("contoso.com"),
            InputBlock(
                block_id=BlockId.TENANT,
                label="Tenant",
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT,
                    max_length=255,
                    placeholder="common, a tenant id or contoso.com",
                ),
                hint="`common`: scopes come from the Azure app's API permissions. A "
                "specific tenant: scopes can be overridden in the consent link.",
            ),
            InputBlock(
                block_id=BlockId.CLIENT_ID,
                label="Azure app client id",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, max_length=64, placeholder="2f70abcd-1234-abcd-1234-…"
                ),
            ),
            InputBlock(
                block_id=BlockId.CLIENT_SECRET,
                label="Azure app client secret",
                optional=True,
                element=PlainTextInputElement(action_id=ActionId.INPUT, max_length=255),
            ),
            InputBlock(
                block_id=BlockId.USE_CONNECTOR_APP,
                label="Or",
                optional=True,
                element=CheckboxesElement(
                    action_id=ActionId.INPUT,
                    options=[
                        Option(
                            value=USE_CONNECTOR_APP,
                            text="Use the Microsoft connector's app credentials",
                        )
                    ],
                ),
            ),
            InputBlock(
                block_id=BlockId.SECRET_EXPIRES_ON,
                label="Client secret expires on",
                optional=True,
                element=DatePickerElement(action_id=ActionId.INPUT),
                hint="The bot warns before it expires; grants go invalid when it does.",
            ),
            _register_anyway(),
            context(
                "For a specific tenant the client id and secret are checked with "
                "Microsoft before anything is registered; for `common` they cannot be."
            ),
        ],
    )


def build_status_view(title: str, text: str, *, retry: RetryToken | None = None) -> View:
    blocks: list[Block] = [markdown(text)]
    if retry is not None:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        action_id=ActionId.RETRY_REGISTRATION,
                        text="Try again",
                        style="primary",
                        value=retry.model_dump_json(),
                    )
                ]
            )
        )
    return View(type="modal", title=title, close="Close", blocks=blocks)


def build_registering_view(provider: str, name: str) -> View:
    return build_status_view(
        f"{PROVIDER_LABELS[provider]} credential",
        f":hourglass_flowing_sand: Registering *{escape(name)}* with Nylas…",
    )


def build_no_connector_message(provider: str) -> str:
    label = PROVIDER_LABELS[provider]
    return (
        f"This Nylas application has no {label} connector, so nothing was registered. "
        f"Add one in the Nylas Dashboard (Connectors → {label}) or with a Create Connector "
        "request (`POST /v3/connectors`), then run the command again."
    )


@dataclass(frozen=True)
class Registered:
    provider: str
    name: str
    credential_id: str
    client_email: str | None = None
    tenant: str | None = None
    record_id: int | None = None


def build_registered_message(result: Registered) -> Message:
    label = PROVIDER_LABELS[result.provider]
    lines = [
        f":white_check_mark: Registered {label} credential *{escape(result.name)}* with Nylas.",
        f"Credential id: `{result.credential_id}`",
    ]
    if result.client_email:
        lines.append(f"Service account: `{escape(result.client_email)}`")
        lines.append(
            f"Next: create grants with `{CommandName.BULKAUTH} grants {escape(result.name)}`."
        )
    else:
        lines.append(f"Tenant: `{escape(result.tenant or '')}`")
        if (result.tenant or "").lower() == "common":
            lines.append(
                "With tenant `common` the consent link works for any organisation and "
                "the scopes come from the Azure app's API permissions."
            )
        else:
            lines.append(
                "With a specific tenant only that organisation can consent, and the "
                "consent link may override the scopes."
            )
        lines.append(
            f"Next: get the customer's admin consent with `{CommandName.BULKAUTH} "
            f"consent {escape(result.name)}`."
        )
    text = "\n".join(lines)
    blocks: list[Block] = [markdown(text)]
    if result.record_id is not None:
        google = result.provider == "google"
        button = ButtonElement(
            action_id=ActionId.OPEN_GRANTS_MODAL if google else ActionId.OPEN_CONSENT_MODAL,
            text="Create grants" if google else "Get admin consent",
            style="primary",
            value=CredentialRef(credential_id=result.record_id).model_dump_json(),
        )
        blocks.append(ActionsBlock(elements=[button]))
    return Message(text=text, blocks=blocks)


def today_utc() -> date:
    return datetime.now(UTC).date()
