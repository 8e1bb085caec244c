"""Nylas's webhook destinations (`/v3/webhooks`): the one for the bot's grant triggers is created,
or updated in place when one already points at the bot's URL.

Nylas verifies a destination before it keeps it: it sends `GET <url>?challenge=…` and wants the
challenge back as plain text within 10 s, so the bot must be running and reachable at
`PUBLIC_BASE_URL` when it is registered. The secret that signs notifications is in the answer to
the creation only (an update never shows it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.nylas.client import NylasClient

GRANT_TRIGGERS = ("grant.created", "grant.updated", "grant.deleted", "grant.expired")
DESCRIPTION = "bulkauth: grant events"


class WebhookDestination(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    webhook_url: str = ""
    trigger_types: list[str] = Field(default_factory=list)
    status: str | None = None
    webhook_secret: SecretStr | None = None  # only when just created


async def register_destination(nylas: NylasClient, url: str) -> tuple[WebhookDestination, bool]:
    """The destination for `url` with the grant triggers, and whether it was created now."""
    listed = await nylas.send("GET", "/v3/webhooks")
    existing = [
        WebhookDestination.model_validate(item)
        for item in (listed.get("data") or [])
        if item.get("webhook_url") == url
    ]
    body = {"trigger_types": list(GRANT_TRIGGERS), "description": DESCRIPTION}
    if existing:
        answer = await nylas.send("PUT", f"/v3/webhooks/{existing[0].id}", body)
        return WebhookDestination.model_validate(answer.get("data") or {}), False
    answer = await nylas.send("POST", "/v3/webhooks", {**body, "webhook_url": url})
    return WebhookDestination.model_validate(answer.get("data") or {}), True
