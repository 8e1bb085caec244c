"""What Nylas relays when the provider refuses a user's token on custom auth: Google's
`unauthorized_client` (delegation missing for the scopes) and `invalid_grant` (no such
mailbox), Microsoft's AADSTS65001 (consent not propagated yet). Nylas answers 400 with type
`provider_error` and the provider's own error in `provider_error`."""

from __future__ import annotations

import time

from bot.demo.fakes.nylas_records import Reply, error_reply

GOOGLE_UNAUTHORIZED = (
    "Client is unauthorized to retrieve access tokens using this method, or client "
    "not authorized for any of the scopes requested."
)
MICROSOFT_NOT_CONSENTED = (
    "AADSTS65001: The user or administrator has not consented to use the application "
    "with ID 'bulkauth-test-app'. Send an interactive authorization request for this "
    "user and resource."
)


class ProviderRefusals:
    """Mixed into FakeNylas, which holds this state."""

    delegation_missing: set[str]  # Google credential ids
    unknown_mailboxes: set[str]  # lower-cased emails
    consent_propagates_at: float | None  # time.monotonic() before which Microsoft refuses

    def _provider_refusal(self, provider: str, credential_id: str, email: str) -> Reply | None:
        if provider == "google" and credential_id in self.delegation_missing:
            return error_reply(
                400,
                "provider_error",
                f"unauthorized_client: {GOOGLE_UNAUTHORIZED}",
                provider_error={
                    "error": "unauthorized_client",
                    "error_description": GOOGLE_UNAUTHORIZED,
                },
            )
        if provider == "google" and email.lower() in self.unknown_mailboxes:
            return error_reply(
                400,
                "provider_error",
                "invalid_grant: Invalid email or User ID",
                provider_error={
                    "error": "invalid_grant",
                    "error_description": "Invalid email or User ID",
                },
            )
        waiting = (
            self.consent_propagates_at is not None and time.monotonic() < self.consent_propagates_at
        )
        if provider == "microsoft" and waiting:
            return error_reply(
                400,
                "provider_error",
                MICROSOFT_NOT_CONSENTED,
                provider_error={
                    "error": "invalid_grant",
                    "error_description": MICROSOFT_NOT_CONSENTED,
                    "error_codes": [65001],
                },
            )
        return None
