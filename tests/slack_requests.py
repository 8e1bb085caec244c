"""Signed Slack requests for posting to the running bot: slash commands and events, which carry
no view or message. Interactions (clicks, submissions) are derived from what the bot sent, in
tests/slack_ui.py."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack import TEAM_ID

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
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
    return {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "ops",
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


def app_home_opened(*, user_id: str, tab: str = "home") -> dict[str, Any]:
    """The Events API envelope Slack posts when a user opens the bot's Home (or Messages) tab."""
    return {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "api_app_id": "A0BULK",
        "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1000)}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        },
    }
