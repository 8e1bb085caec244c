"""What Nylas sends to a webhook destination, checked before anything trusts it.

`x-nylas-signature` is the hex HMAC-SHA256 of the raw request body under the destination's
secret; with compressed delivery, of the raw compressed body (field-failures.md). The signature
carries no timestamp of its own: the signed body's `time` (the event's Unix time) is what bounds
a replay, so a notification older than `BULKAUTH_WEBHOOK_MAX_AGE_SECONDS` is refused like a bad
signature, and the inbox keeps every id for longer than that (a replay inside the window is a
duplicate). Nylas reports an expiry up to 10 minutes late and retries a failed delivery up to 3
times, so the default window of an hour leaves room for both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.nylas.webhooks import GRANT_TRIGGERS

__all__ = ["GRANT_TRIGGERS", "Notification", "Rejected", "parse_notification"]

MAX_BODY_BYTES = 1024**2  # a notification is a few hundred bytes; decompressed size is capped
FUTURE_SKEW_SECONDS = 300  # clocks disagree a little; a notification from further ahead is odd


class Rejected(Exception):
    """Why a request is not a notification from Nylas (a short reason for the audit)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def signature_of(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, signature: str | None, secret: str) -> None:
    if not signature:
        raise Rejected("no signature")
    given = signature.strip().lower()
    # compare_digest raises on non-ASCII text: anything but 64 hex digits is simply wrong.
    if not HEX_SHA256.fullmatch(given) or not hmac.compare_digest(
        given.encode(), signature_of(body, secret).encode()
    ):
        raise Rejected("bad signature")


def decompressed(body: bytes, encoding: str | None) -> bytes:
    """The body as JSON bytes: gzip (or deflate) undone, at most MAX_BODY_BYTES of output."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "deflate"):
        raise Rejected(f"unsupported content-encoding {coding[:20]}", status=415)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if coding == "gzip" else 32))
    try:
        out = inflater.decompress(body, MAX_BODY_BYTES)
    except zlib.error:
        raise Rejected("undecodable compressed body", status=400) from None
    if inflater.unconsumed_tail:
        raise Rejected("decompressed body too large", status=413)
    return out


class GrantObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    grant_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    provider: str | None = Field(default=None, max_length=16)
    integration_id: str | None = None
    code: int | None = None
    reauthentication_flag: bool | None = None
    grant_updated_at: int | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")

    application_id: str | None = None
    object: GrantObject


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=48)
    time: int
    data: _Data


@dataclass(frozen=True)
class Notification:
    notification_id: str
    trigger: str
    occurred_at: datetime
    grant: GrantObject

    def as_row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "trigger": self.trigger,
            "grant_id": self.grant.grant_id,
            "email": self.grant.email.lower() if self.grant.email else None,
            "provider": self.grant.provider,
            "occurred_at": self.occurred_at,
            "received_at": received_at,
            "payload": self.grant.model_dump_json(exclude_none=True),
        }


def parse_notification(body: bytes, *, now: datetime, max_age_seconds: float) -> Notification:
    """A signed body as a notification; refused when it is not one or is too old (a replay)."""
    try:
        envelope = _Envelope.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        raise Rejected("not a notification", status=400) from None
    age = now.timestamp() - envelope.time
    if age > max_age_seconds:
        raise Rejected("stale notification")
    if age < -FUTURE_SKEW_SECONDS:
        raise Rejected("notification from the future")
    return Notification(
        notification_id=envelope.id,
        trigger=envelope.type,
        occurred_at=datetime.fromtimestamp(envelope.time, UTC),
        grant=envelope.data.object,
    )
