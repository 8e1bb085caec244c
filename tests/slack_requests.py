"""Signed Slack requests, built the way Slack sends them, for posting to the running bot."""

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


def block_action(
    *,
    user_id: str,
    action_id: str,
    value: str = "",
    channel_id: str = "C0OPS",
    message_ts: str | None = None,
    response_url: str = "",
    view: dict[str, Any] | None = None,
    block_id: str = "b",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0BULK",
        "token": "deprecated",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "trigger_id": "13345224609.738474920.8088930838d88f008e1",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": str(time.time()),
            }
        ],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts or "1.1",
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "ops"}
        payload["response_url"] = response_url
        payload["message"] = {"ts": message_ts or "1.1", "text": ""}
    return payload


def view_submission(
    *, user_id: str, view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """A view_submission for a view the fake Slack received in views.open/update/push."""
    submitted = {**view, "state": {"values": values}, "type": "modal"}
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0BULK",
        "token": "deprecated",
        "trigger_id": "13345224609.738474920.8088930838d88f008e2",
        "view": submitted,
        "response_urls": [],
    }


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
