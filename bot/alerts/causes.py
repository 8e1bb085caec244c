"""The likely cause of grants going invalid, in plain words, from what the bot knows about the
credential (its provider, a Microsoft client secret's stored expiry date) and what happened."""

from __future__ import annotations

from datetime import date

UNKNOWN_CREDENTIAL = (
    "these grants were not created by bulkauth, so their credential is unknown here; check "
    "them in the Nylas Dashboard"
)


def likely_cause(
    *,
    provider: str | None,
    known: bool,
    secret_expires_on: date | None,
    expired: int,
    deleted: int,
    today: date,
) -> str:
    if deleted > expired:
        return (
            "the grants were deleted at Nylas (someone with the API key, or their connector or "
            "credential was removed); deleted grants cannot be re-authenticated, only created again"
        )
    if not known:
        return UNKNOWN_CREDENTIAL
    if provider == "microsoft":
        if secret_expires_on is not None and secret_expires_on <= today:
            return f"the credential's client secret expired on {secret_expires_on.isoformat()}"
        return (
            "the customer's admin may have revoked consent or removed the Azure app, or its client "
            "secret was replaced without rotating the credential here"
        )
    if provider == "google":
        return (
            "the service account's key may have been deleted, or the customer's domain-wide "
            "delegation was removed or lost a scope (Admin console → Security → API controls)"
        )
    return "the provider stopped accepting the grants; check the credential with `/bulkauth doctor`"
