"""Validating the rotation modals before anything leaves the bot: the new Microsoft secret with
the tenant and client id the bot kept (complete credential data), or a new Google key of the
same service account. Errors map a modal block id to what Slack shows under that field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pydantic import SecretStr

from bot.credentials.forms import GUID, parse_key_file, tenant_problem
from bot.errors import UserInputError
from bot.ids import BlockId
from bot.nylas.consent import COMMON_TENANT
from bot.nylas.models import CredentialData, GoogleServiceAccountKey, MicrosoftAdminConsentData
from bot.slack.access import SlackActor
from storage.models import CredentialRecord

ANOTHER_ACCOUNT = (
    "That is another service account ({email}), not {expected}: register it as a new "
    "credential (`/bulkauth credential google`)."
)


def parse_microsoft_rotation(
    record: CredentialRecord,
    *,
    tenant: str,
    client_id: str,
    client_secret: str,
    expires_on: date | None,
    today: date,
) -> MicrosoftAdminConsentData:
    """The complete adminconsent data: the kept tenant and client id (or the ones typed when the
    bot lacks them) with the new secret."""
    errors: dict[str, str] = {}
    tenant = record.tenant or tenant
    client_id = record.client_id or client_id
    if not record.tenant and (problem := tenant_problem(tenant)):
        errors[BlockId.TENANT] = problem
    if not record.client_id and not GUID.match(client_id):
        errors[BlockId.CLIENT_ID] = "The Azure app's client id is a GUID (Application (client) ID)."
    if not client_secret:
        errors[BlockId.CLIENT_SECRET] = "Give the new client secret's value."
    if expires_on is None:
        errors[BlockId.SECRET_EXPIRES_ON] = "Give the date Azure shows under Expires."
    elif expires_on < today:
        errors[BlockId.SECRET_EXPIRES_ON] = "This date is in the past: is this secret expired?"
    if errors:
        raise UserInputError("Some fields need attention.", errors)
    return MicrosoftAdminConsentData(
        tenant=tenant.lower() if tenant.lower() == COMMON_TENANT else tenant,
        client_id=client_id,
        client_secret=SecretStr(client_secret),
    )


def parse_google_rotation(
    record: CredentialRecord, *, pasted: str, uploaded: str | None, upload_problem: str | None
) -> GoogleServiceAccountKey:
    """A new key of the credential's own service account (file or pasted, not both)."""
    has_upload = uploaded is not None or upload_problem is not None
    source = BlockId.KEY_FILE if has_upload else BlockId.KEY_JSON
    if has_upload and pasted:
        message = "Give the key either as a file or pasted, not both."
        raise UserInputError(message, {BlockId.KEY_FILE: message, BlockId.KEY_JSON: message})
    if not has_upload and not pasted:
        message = "Upload the new JSON key file, or paste its contents."
        raise UserInputError(message, {BlockId.KEY_FILE: message, BlockId.KEY_JSON: message})
    if upload_problem:
        raise UserInputError(upload_problem, {BlockId.KEY_FILE: upload_problem})
    try:
        key = parse_key_file(uploaded if uploaded is not None else pasted)
    except ValueError as error:
        raise UserInputError(str(error), {source: str(error)}) from None
    expected = record.client_email or ""
    if key.client_email.lower() != expected.lower():
        message = ANOTHER_ACCOUNT.format(email=key.client_email, expected=expected)
        raise UserInputError(message, {source: message})
    if key.private_key_id == record.private_key_id:
        message = "This is the key Nylas has already; create a new key and give that one."
        raise UserInputError(message, {source: message})
    return key


@dataclass(frozen=True)
class PendingRotation:
    """An accepted rotation modal, held in memory (never stored) until Nylas has it."""

    record_id: int
    data: CredentialData  # complete: Nylas replaces the credential's data whole
    actor: SlackActor
    channel_id: str
    expires_on: date | None = None
    check: str = "passed"
    uploaded_file_id: str | None = None
    learned: dict[str, str] = field(default_factory=dict)  # tenant/client id typed in the modal

    def __repr__(self) -> str:
        return f"PendingRotation(credential {self.record_id})"
