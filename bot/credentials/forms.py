"""Validating the credential modals before anything leaves the bot.

Each `parse_*` returns the typed request or raises UserInputError whose `field_errors` map a
modal block id to a message that Slack shows under that field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from email_validator import EmailNotValidError, validate_email
from pydantic import SecretStr

from bot.errors import UserInputError
from bot.ids import BlockId
from bot.nylas.consent import COMMON_TENANT
from bot.nylas.models import GoogleServiceAccountKey, MicrosoftAdminConsentData, Provider
from bot.slack.access import SlackActor

MAX_NAME_LENGTH = 120
MAX_KEY_FILE_BYTES = 64 * 1024  # a real key file is about 2.3 KB
REQUIRED_KEY_FIELDS = ("private_key_id", "private_key", "client_email", "project_id")
USE_CONNECTOR_APP = "use_connector_app"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(
    r"^(?=.{4,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$"
)


def check_name(name: str, *, taken: bool) -> str | None:
    if not name:
        return "Give the credential a name, e.g. the customer's domain."
    if len(name) > MAX_NAME_LENGTH:
        return f"Keep the name to {MAX_NAME_LENGTH} characters (it has {len(name)})."
    if taken:
        return "A credential of this provider already has this name; pick another."
    return None


def _json_object(text: str) -> dict[str, object]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"This is not JSON ({error.msg} at line {error.lineno}).") from None
    if not isinstance(parsed, dict):
        raise ValueError("This is JSON but not a key file (expected an object).")
    return parsed


def _rsa_key_problem(pem: str) -> str | None:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return "`private_key` is not a readable PEM private key."
    if not isinstance(key, RSAPrivateKey):
        return "`private_key` must be an RSA key, as Google issues."
    return None


def parse_key_file(text: str) -> GoogleServiceAccountKey:
    """A Google service account key from its JSON text; ValueError says what is wrong."""
    fields = _json_object(text)
    if fields.get("type") != "service_account":
        raise ValueError('`type` must be "service_account": is this a service account key?')
    missing = [name for name in REQUIRED_KEY_FIELDS if not str(fields.get(name) or "").strip()]
    if missing:
        raise ValueError(f"The key file lacks {', '.join(f'`{name}`' for name in missing)}.")
    problem = _rsa_key_problem(str(fields["private_key"]))
    if problem:
        raise ValueError(problem)
    try:
        validate_email(str(fields["client_email"]), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("`client_email` is not an email address.") from None
    return GoogleServiceAccountKey.model_validate(
        {**fields, "private_key": SecretStr(str(fields["private_key"]))}
    )


@dataclass(frozen=True)
class GoogleForm:
    name: str
    key: GoogleServiceAccountKey


@dataclass(frozen=True)
class MicrosoftForm:
    name: str
    data: MicrosoftAdminConsentData
    secret_expires_on: date | None


def parse_google_form(
    *, name: str, name_taken: bool, pasted: str, uploaded: str | None, upload_problem: str | None
) -> GoogleForm:
    errors: dict[str, str] = {}
    if problem := check_name(name, taken=name_taken):
        errors[BlockId.CREDENTIAL_NAME] = problem
    has_upload = uploaded is not None or upload_problem is not None
    if has_upload and pasted:
        message = "Give the key either as a file or pasted, not both."
        errors[BlockId.KEY_FILE] = errors[BlockId.KEY_JSON] = message
    elif not has_upload and not pasted:
        message = "Upload the service account's JSON key file, or paste its contents."
        errors[BlockId.KEY_FILE] = errors[BlockId.KEY_JSON] = message
    elif upload_problem:
        errors[BlockId.KEY_FILE] = upload_problem
    key = None
    if not (BlockId.KEY_FILE in errors or BlockId.KEY_JSON in errors):
        source = BlockId.KEY_FILE if has_upload else BlockId.KEY_JSON
        try:
            key = parse_key_file(uploaded if uploaded is not None else pasted)
        except ValueError as error:
            errors[source] = str(error)
    if errors or key is None:
        raise UserInputError("Some fields need attention.", errors)
    return GoogleForm(name=name, key=key)


def tenant_problem(tenant: str) -> str | None:
    if not tenant:
        return "Give the tenant: `common`, the tenant id (a GUID) or a verified domain."
    if tenant.lower() == COMMON_TENANT or GUID.match(tenant) or _DOMAIN.match(tenant):
        return None
    return "Use `common`, a tenant id (GUID like 2f70abcd-1234-…) or a domain like contoso.com."


def parse_microsoft_form(
    *,
    name: str,
    name_taken: bool,
    tenant: str,
    client_id: str,
    client_secret: str,
    use_connector_app: bool,
    secret_expires_on: date | None,
    today: date,
) -> MicrosoftForm:
    errors: dict[str, str] = {}
    if problem := check_name(name, taken=name_taken):
        errors[BlockId.CREDENTIAL_NAME] = problem
    if problem := tenant_problem(tenant):
        errors[BlockId.TENANT] = problem
    if use_connector_app:
        if client_id:
            errors[BlockId.CLIENT_ID] = "Leave empty when using the connector's app credentials."
        if client_secret:
            errors[BlockId.CLIENT_SECRET] = (
                "Leave empty when using the connector's app credentials."
            )
    else:
        if not GUID.match(client_id):
            errors[BlockId.CLIENT_ID] = (
                "The Azure app's client id is a GUID (Application (client) ID in Azure)."
            )
        if not client_secret:
            errors[BlockId.CLIENT_SECRET] = (
                "Give the client secret, or tick “use the connector's app credentials”."
            )
    if secret_expires_on is not None and secret_expires_on < today:
        errors[BlockId.SECRET_EXPIRES_ON] = "This date is in the past: is the secret expired?"
    if errors:
        raise UserInputError("Some fields need attention.", errors)
    data = MicrosoftAdminConsentData(
        tenant=tenant.lower() if tenant.lower() == COMMON_TENANT else tenant,
        client_id=client_id or None,
        client_secret=SecretStr(client_secret) if client_secret else None,
    )
    return MicrosoftForm(name=name, data=data, secret_expires_on=secret_expires_on)


@dataclass(frozen=True)
class PendingRegistration:
    provider: Provider
    form: GoogleForm | MicrosoftForm
    actor: SlackActor
    channel_id: str
    uploaded_file_id: str | None = None
    check: str = "skipped"  # passed, overridden, not possible (common, connector app), unreachable
    findings: tuple[str, ...] = ()  # the problem codes of a check that failed or warned

    def __repr__(self) -> str:
        return f"PendingRegistration({self.provider}, {self.form.name!r})"
