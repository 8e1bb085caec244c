"""The Microsoft admin-consent URL (`/v3/connect/auth?response_type=adminconsent…`)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from bot.errors import UserInputError

MAX_STATE_LENGTH = 256
COMMON_TENANT = "common"


def admin_consent_url(
    *,
    api_uri: str,
    client_id: str,
    redirect_uri: str,
    credential_id: str,
    state: str,
    tenant: str,
    scopes: list[str] | None = None,
) -> str:
    """Every parameter is URL-encoded (the redirect URI's slashes too).

    With tenant `common` the scopes come from the Azure app's API permissions and cannot be
    overridden; with a specific tenant an override is allowed.
    """
    if scopes and tenant.lower() == COMMON_TENANT:
        raise UserInputError(
            "With tenant `common` the scopes come from the Azure app's API permissions; "
            "a scope override needs a credential for a specific tenant."
        )
    if not state or len(state) > MAX_STATE_LENGTH:
        raise ValueError(f"state must be 1 to {MAX_STATE_LENGTH} characters")
    params = {
        "provider": "microsoft",
        "response_type": "adminconsent",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "credential_id": credential_id,
        "state": state,
    }
    if scopes:
        params["scope"] = " ".join(scopes)
    return f"{api_uri.rstrip('/')}/v3/connect/auth?{urlencode(params, quote_via=quote, safe='')}"
