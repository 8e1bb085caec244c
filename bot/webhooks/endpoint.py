"""`/nylas/webhook`: Nylas's challenge handshake and its signed notifications (POST only with
NYLAS_WEBHOOK_SECRET set; 404 otherwise).

A notification is answered 200 only once it is stored in the inbox (a crash loses nothing;
Nylas's retries of one id are stored once); the audit and the alert come from the processor,
after the answer. A request that fails a check gets 401 (signature, age) or 4xx (shape) and
does no work beyond one rate-limited audit event."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    secret: str = field(repr=False)
    max_age_seconds: float
    inbox: InboxWriter
    rejections: WebhookRejections

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


async def answer_challenge(request: web.Request) -> web.Response:
    """Nylas checks a destination with GET ?challenge=… before keeping it: the value back, as
    plain text. Answered with or without NYLAS_WEBHOOK_SECRET, because Nylas reveals the secret
    only after this check passed (`bulkauth webhook register`); it does no work and echoes only
    what the caller sent, as inert text."""
    challenge = request.query.get("challenge", "")
    if not challenge or len(challenge) > MAX_CHALLENGE:
        return web.Response(status=400, text="challenge missing", headers=_PLAIN)
    return web.Response(text=challenge, content_type="text/plain", headers=_PLAIN)


async def notifications_off(_request: web.Request) -> web.Response:
    """Without NYLAS_WEBHOOK_SECRET nothing can be verified, so nothing is taken."""
    raise web.HTTPNotFound()


def webhook_routes(receiver: WebhookReceiver | None) -> list[web.RouteDef]:
    """The challenge always; notifications only with a secret (404 otherwise)."""
    taken = receiver.notification if receiver is not None else notifications_off
    return [web.get(WEBHOOK_PATH, answer_challenge), web.post(WEBHOOK_PATH, taken)]
