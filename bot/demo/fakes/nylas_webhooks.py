"""The fake Nylas's webhooks: the destinations API (`/v3/webhooks`) and the sender of signed
notifications, as Nylas documents them (field-failures.md, nylas-api.md §5.3).

Creating a destination first checks it with `GET ?challenge=…` (answered with the challenge as
plain text within 10 s, or the destination is refused); the answer carries `webhook_secret`, the
only time Nylas shows it. A notification is a CloudEvents-style JSON body (`specversion`, `type`,
`source`, `id`, `time`, `webhook_delivery_attempt`, `data.object`), signed with
`x-nylas-signature` = hex HMAC-SHA256 of the raw body (of the gzip bytes when compressed), sent
again on 408, 429, 502, 503, 504, 507 or a connection error, up to 3 attempts in all.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.demo.fakes.nylas_records import Reply, error_reply

RETRIED_STATUSES = frozenset({408, 429, 502, 503, 504, 507})
ATTEMPTS = 3
CHALLENGE_TIMEOUT = 10.0
_REQUIRED = "trigger_types and webhook_url are required"
_FIELDS = ("description", "trigger_types", "webhook_url", "notification_email_addresses")


@dataclass
class Delivery:
    notification_id: str
    trigger: str
    statuses: list[int]  # one per attempt; 0 for a connection error

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


def notification(
    trigger: str,
    grant: dict[str, Any],
    *,
    notification_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "grant_id": grant["id"],
        "integration_id": "c9f5b5a3-0000-4000-8000-000000000001",
        "provider": grant.get("provider", "google"),
        "email": grant.get("email"),
        "grant_updated_at": int(grant.get("updated_at") or time.time()),
    }
    if trigger == "grant.expired":
        obj["code"] = 25009
    if trigger == "grant.updated":
        obj["reauthentication_flag"] = True
    return {
        "specversion": "1.0",
        "type": trigger,
        "source": "/nylas/system",
        "id": notification_id or str(uuid.uuid4()),
        "time": int(at if at is not None else time.time()),
        "webhook_delivery_attempt": 1,
        "data": {"application_id": "fake-application-id", "object": obj},
    }


def signed(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class NylasWebhooks:
    """Mixed into FakeNylas, which holds `webhooks` (by id) and `deliveries`."""

    webhooks: dict[str, dict[str, Any]]
    deliveries: list[Delivery]
    api_key: str

    # --- the destinations API ------------------------------------------------------------
    async def _webhook_precheck(
        self, method: str, path: str, body: Any, authorization: str
    ) -> Reply | None:
        """Creating a destination (or changing its URL) verifies it first, as Nylas does."""
        if authorization != f"Bearer {self.api_key}" or not isinstance(body, dict):
            return None
        creating = method == "POST" and path == "/v3/webhooks"
        moving = method == "PUT" and path.startswith("/v3/webhooks/") and "webhook_url" in body
        if not (creating or moving):
            return None
        challenge = secrets.token_urlsafe(16)
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    str(body.get("webhook_url", "")),
                    params={"challenge": challenge},
                    timeout=aiohttp.ClientTimeout(total=CHALLENGE_TIMEOUT),
                ) as answer,
            ):
                echoed = answer.status == 200 and (await answer.text()) == challenge
        except (aiohttp.ClientError, TimeoutError, ValueError):
            echoed = False
        if echoed:
            return None
        return error_reply(
            400, "invalid_request_error", "webhook_url did not answer the challenge request"
        )

    def _webhook_routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/v3/webhooks", self._list_webhooks),
            ("POST", r"/v3/webhooks", self._create_webhook),
            ("PUT", r"/v3/webhooks/(?P<id>[^/]+)", self._update_webhook),
        ]

    @staticmethod
    def _public_webhook(webhook: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in webhook.items() if key != "webhook_secret"}

    def _list_webhooks(self, **_request: Any) -> Reply:
        data = [self._public_webhook(webhook) for webhook in self.webhooks.values()]
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": data})

    def _create_webhook(self, *, body: Any, **_request: Any) -> Reply:
        if (
            not isinstance(body, dict)
            or not body.get("trigger_types")
            or not body.get("webhook_url")
        ):
            return error_reply(
                400, "invalid_request_error", "trigger_types and webhook_url are required"
            )
        now = int(time.time())
        webhook = {
            "id": str(uuid.uuid4()),
            **{key: body[key] for key in _FIELDS if key in body},
            "webhook_secret": secrets.token_hex(32),
            "status": "active",
            "status_updated_at": now,
            "created_at": now,
            "updated_at": now,
        }
        self.webhooks[webhook["id"]] = webhook
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": dict(webhook)})

    def _update_webhook(self, *, body: Any, id: str, **_request: Any) -> Reply:
        webhook = self.webhooks.get(id)
        if webhook is None:
            return error_reply(404, "not_found_error", f"webhook {id} not found")
        webhook.update({key: body[key] for key in _FIELDS if key in (body or {})})
        webhook["updated_at"] = int(time.time())
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": self._public_webhook(webhook)})

    def add_webhook(self, url: str, *, secret: str, triggers: tuple[str, ...] = ()) -> str:
        """A destination registered directly (a test that needs no `webhook register`)."""
        webhook_id = str(uuid.uuid4())
        self.webhooks[webhook_id] = {
            "id": webhook_id,
            "webhook_url": url,
            "trigger_types": list(triggers),
            "webhook_secret": secret,
            "status": "active",
        }
        return webhook_id

    # --- the sender -------------------------------------------------------------------------
    def _destination(self) -> dict[str, Any]:
        if not self.webhooks:
            raise AssertionError("no webhook destination registered at the fake Nylas")
        return next(iter(self.webhooks.values()))

    async def notify(
        self,
        trigger: str,
        grant: dict[str, Any],
        *,
        http: aiohttp.ClientSession | None = None,
        notification_id: str | None = None,
        compress: bool = False,
        at: float | None = None,
        retry_wait: float = 0.2,
    ) -> Delivery:
        """POST one signed notification to the registered destination, retried like Nylas."""
        destination = self._destination()
        payload = notification(trigger, grant, notification_id=notification_id, at=at)
        delivery = Delivery(payload["id"], trigger, [])
        own = http is None
        session = http or aiohttp.ClientSession()
        try:
            for attempt in range(1, ATTEMPTS + 1):
                payload["webhook_delivery_attempt"] = attempt
                body = json.dumps(payload).encode()
                headers = {"Content-Type": "application/json"}
                if compress:
                    body = gzip_module.compress(body)
                    headers["Content-Encoding"] = "gzip"
                headers["X-Nylas-Signature"] = signed(body, destination["webhook_secret"])
                try:
                    async with session.post(
                        destination["webhook_url"], data=body, headers=headers
                    ) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, OSError):
                    status = 0
                delivery.statuses.append(status)
                if status != 0 and status not in RETRIED_STATUSES:
                    break
                if attempt < ATTEMPTS:
                    await asyncio.sleep(retry_wait * 2 ** (attempt - 1))
        finally:
            if own:
                await session.close()
        self.deliveries.append(delivery)
        return delivery

    async def notify_many(
        self,
        trigger: str,
        grants: list[dict[str, Any]],
        *,
        concurrency: int = 50,
        compress: bool = False,
        retry_wait: float = 0.2,
    ) -> list[Delivery]:
        """One notification per grant, `concurrency` in flight at once (a burst)."""
        gate = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one(grant: dict[str, Any]) -> Delivery:
                async with gate:
                    return await self.notify(
                        trigger, grant, http=http, compress=compress, retry_wait=retry_wait
                    )

            return list(await asyncio.gather(*(one(grant) for grant in grants)))
