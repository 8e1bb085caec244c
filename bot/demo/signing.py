"""Requests as Slack signs and sends them to the bot: slash commands and interaction payloads
(form-encoded, `x-slack-signature` over the body). Shared by the demo page and the tests."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.demo.fakes.slack_rules import TEAM_ID

FORM = "application/x-www-form-urlencoded"


def signed_headers(
    body: str, *, secret: str, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    if signature is None:  # only when no secret is given
        raise ValueError("a signing secret is needed to sign a request")
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


def slash_command(
    text: str,
    *,
    user_id: str,
    response_url: str = "",
    channel_id: str = "C0OPS",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, str]:
    """The form Slack posts for `/bulkauth <text>` typed in `channel_id`."""
    return {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": channel_id.lower(),
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/bulkauth",
        "text": text,
        "api_app_id": "A0BULK",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def form_body(fields: dict[str, str]) -> str:
    return urlencode(fields)


def payload_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})
