"""Pydantic models of the Nylas admin API (connectors, credentials, custom auth, grants).

Secrets are SecretStr: they show as `**********` in reprs, logs and `model_dump`. Only
`wire_body()` reveals them, to build the request body that goes to Nylas.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Provider = Literal["google", "microsoft"]
GrantStatus = Literal["valid", "invalid"]
T = TypeVar("T")


class _Lenient(BaseModel):
    """Responses: unknown fields are ignored, so a new Nylas field never breaks the bot."""

    model_config = ConfigDict(extra="ignore")


class Connector(_Lenient):
    provider: str
    name: str | None = None
    scope: list[str] = Field(default_factory=list)
    active_credential_id: str | None = None


class Credential(_Lenient):
    id: str
    name: str
    created_at: int | None = None
    updated_at: int | None = None


class Grant(_Lenient):
    id: str
    provider: str
    email: str | None = None
    grant_status: GrantStatus | None = None
    scope: list[str] = Field(default_factory=list)
    credential_id: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    blocked: bool | None = None


class Envelope(BaseModel, Generic[T]):
    """A single-object answer with its request id (kept for the audit log)."""

    data: T
    request_id: str | None = None


class GoogleServiceAccountKey(BaseModel):
    """The fields of a Google service account JSON key file, as Nylas's serviceaccount data."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["service_account"] = "service_account"
    project_id: str
    private_key_id: str
    private_key: SecretStr
    client_email: str
    client_id: str | None = None
    auth_uri: str | None = None
    token_uri: str | None = None
    auth_provider_x509_cert_url: str | None = None
    client_x509_cert_url: str | None = None
    universe_domain: str | None = None

    def wire_body(self) -> dict[str, Any]:
        body = self.model_dump(exclude_none=True)
        body["private_key"] = self.private_key.get_secret_value()
        return body


class MicrosoftAdminConsentData(BaseModel):
    """adminconsent data; without client id and secret Nylas uses the connector's Azure app."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    client_id: str | None = None
    client_secret: SecretStr | None = None

    def wire_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"tenant": self.tenant}
        if self.client_id is not None:
            body["client_id"] = self.client_id
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret.get_secret_value()
        return body


CredentialData = GoogleServiceAccountKey | MicrosoftAdminConsentData


def credential_type_of(data: CredentialData) -> Literal["serviceaccount", "adminconsent"]:
    return "serviceaccount" if isinstance(data, GoogleServiceAccountKey) else "adminconsent"


class GrantFilters(BaseModel):
    """The documented List Grants filters; `limit`/`offset` are driven by the pager."""

    email: str | None = None
    provider: str | None = None
    grant_status: GrantStatus | None = None
    since: int | None = None
    before: int | None = None
    sort_by: Literal["created_at", "updated_at"] | None = None
    order_by: Literal["asc", "desc"] | None = None

    def query(self) -> dict[str, str | int]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class BulkAuthRequest(BaseModel):
    """One Custom Authentication call for one mailbox (Google needs scopes, Microsoft none)."""

    provider: Provider
    credential_id: str
    email_address: str
    scopes: list[str] | None = None

    def wire_body(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "credential_id": self.credential_id,
            "email_address": self.email_address,
        }
        if self.provider == "google":
            settings["scopes"] = list(self.scopes or [])
        return {"provider": self.provider, "settings": settings}
