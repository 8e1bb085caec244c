"""Signed Slack requests for posting to the running bot (built by bot/demo/signing.py, which the
demo shares): slash commands and events, which carry no view or message. Interactions (clicks,
submissions) are derived from what the bot sent, in tests/slack_ui.py."""

from __future__ import annotations

import time
from typing import Any

from bot.demo import signing
from bot.demo.signing import form_body, payload_body, slash_command
from tests.fakes.slack import TEAM_ID

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
__all__ = [
    "SIGNING_SECRET",
    "app_home_opened",
    "form_body",
    "payload_body",
    "signed_headers",
    "slash_command",
]


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = signing.FORM,
) -> dict[str, str]:
    return signing.signed_headers(
        body, secret=secret, timestamp=timestamp, content_type=content_type
    )


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
