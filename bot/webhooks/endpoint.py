"""`/nylas/webhook`: Nylas's challenge handshake and its signed notifications.

A notification is answered 200 only once it is stored in the inbox (a crash loses nothing;
Nylas's retries of one id are stored once); the audit and the alert come from the processor,
after the answer. A request that fails a check gets 401 (signature, age) or 4xx (shape) and
does no work beyond one rate-limited audit event."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.webhooks.inbox import InboxWriter
from bot.webhooks.notifications import (
    GRANT_TRIGGERS,
    Rejected,
    check_signature,
    decompressed,
    parse_notification,
)
from bot.webhooks.rejections import WebhookRejections
from storage.models import utcnow

WEBHOOK_PATH = "/nylas/webhook"
MAX_CHALLENGE = 1024
_PLAIN = {"X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class WebhookReceiver:
    secret: str
    max_age_seconds: float
    inbox: InboxWriter
    rejections: WebhookRejections

    async def challenge(self, request: web.Request) -> web.Response:
        """Nylas checks a new destination with GET ?challenge=…: the value back, as plain text."""
        challenge = request.query.get("challenge", "")
        if not challenge or len(challenge) > MAX_CHALLENGE:
            return web.Response(status=400, text="challenge missing", headers=_PLAIN)
        return web.Response(text=challenge, content_type="text/plain", headers=_PLAIN)

    async def notification(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            check_signature(raw, request.headers.get("x-nylas-signature"), self.secret)
            body = decompressed(raw, request.headers.get("Content-Encoding"))
            notification = parse_notification(
                body, now=utcnow(), max_age_seconds=self.max_age_seconds
            )
        except Rejected as rejected:
            await self.rejections.rejected(rejected.reason, request.remote)
            return web.json_response({"error": "invalid request"}, status=rejected.status)
        if notification.trigger in GRANT_TRIGGERS:  # others (none subscribed) are let go
            await self.inbox.store(notification.as_row(utcnow()))
        return web.Response(status=200, text="ok", headers=_PLAIN)

    def routes(self) -> list[web.RouteDef]:
        return [web.get(WEBHOOK_PATH, self.challenge), web.post(WEBHOOK_PATH, self.notification)]
