"""What the fake Slack stores and the rules it holds the bot to (Block Kit limits, escaped
user input), shared by the fake's modules."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TEAM_ID = "T0TEAM"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    token: str | None
    response: dict[str, Any] | None = None  # what the fake answered, once it has
    at: float = field(default_factory=time.monotonic)  # when the fake received it

    def text_blob(self) -> str:
        return json.dumps(self.params, default=str)


@dataclass
class Fault:
    status: int
    error: str
    retry_after: int | None
    remaining: int


@dataclass
class SlackUser:
    id: str
    name: str
    is_admin: bool = False
    is_owner: bool = False
    tz: str = "Europe/London"

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name.lower(),
            "real_name": self.name,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "tz": self.tz,
            "profile": {"display_name": self.name, "real_name": self.name},
        }


@dataclass
class UploadedFile:
    id: str
    filename: str
    content: bytes = b""
    size: int = 0
    channel_id: str | None = None
    thread_ts: str | None = None
    title: str | None = None


INTERACTIVE_TYPES = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "file_input",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "timepicker",
        "url_text_input",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
DOWNLOAD_PIECE_BYTES = 16 * 1024
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SELECT_OPTIONS = 100


def _element_problem(element: dict[str, Any]) -> str | None:
    static = element.get("type") == "static_select" and "option_groups" not in element
    if static and not 1 <= len(element.get("options") or []) <= MAX_SELECT_OPTIONS:
        return "a static_select needs 1 to 100 options"
    return None


# In mrkdwn Slack turns "<…>" into a ping (<!channel>), a link (<https://…|text>) or a mention.
# The bot itself writes only mentions (<@U…>, <#C…>), date tokens (<!date^…>) and links to the
# services it works with (the local fakes in tests); anything else is user input let through.
MARKUP = re.compile(r"<([^>]*)>?")
# Mentions and channel links by id, dates, and the approver group's mention (from settings).
BOTS_OWN_MARKUP = re.compile(r"[@#][A-Z0-9]+(\|[^<>]*)?|!date\^[^<>]*|!subteam\^S[A-Z0-9]+")
BOTS_LINK_HOSTS = frozenset({"127.0.0.1", "localhost", "admin.google.com", "portal.azure.com"})


def unescaped(text: str) -> bool:
    for match in MARKUP.finditer(text):
        inside = match.group(1)
        if BOTS_OWN_MARKUP.fullmatch(inside):
            continue
        if urlsplit(inside.split("|", 1)[0]).hostname not in BOTS_LINK_HOSTS:
            return True
    return False


SHOWN_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "response_url",
        "views.open",
        "views.update",
        "views.push",
        "views.publish",
    }
)


def mrkdwn_texts(value: Any, *, top: bool = True) -> list[str]:
    """Every string Slack renders as mrkdwn in a message or view: the message's `text` (its
    fallback, shown in notifications) and every mrkdwn text object."""
    found: list[str] = []
    if isinstance(value, str) and value[:1] in "[{":
        value = json.loads(value)
    if isinstance(value, dict):
        if top and isinstance(value.get("text"), str):
            found.append(value["text"])
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for key, inner in value.items():
            if key in {"blocks", "view", "elements", "fields", "text", "accessory", "element"}:
                found += mrkdwn_texts(inner, top=False)
    elif isinstance(value, list):
        for inner in value:
            found += mrkdwn_texts(inner, top=False)
    return found


def _generated_id() -> str:
    return secrets.token_urlsafe(4)


def assign_ids(blocks: list[dict[str, Any]]) -> None:
    """Give every block a `block_id` and every interactive element an `action_id` where the app
    left them out, as Slack does: payloads then carry these generated ids."""
    for block in blocks:
        block.setdefault("block_id", _generated_id())
        elements = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") in INTERACTIVE_TYPES:
                element.setdefault("action_id", _generated_id())


def block_problem(blocks: Any, most: int) -> str | None:
    """What Slack would refuse in these blocks (the limits our builders must respect)."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(blocks) > most:
        return f"more than {most} blocks"
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    if len(block_ids) != len(set(block_ids)):
        return "duplicate block_id"
    for block in blocks:
        text = (block.get("text") or {}).get("text") or ""
        if block.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
            return "section text longer than 3000"
        elements = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        elements = [e for e in elements if isinstance(e, dict)]
        action_ids = [e["action_id"] for e in elements if "action_id" in e]
        if len(action_ids) != len(set(action_ids)):
            return "duplicate action_id in a block"
        if problem := next(filter(None, map(_element_problem, elements)), None):
            return problem
    return None
