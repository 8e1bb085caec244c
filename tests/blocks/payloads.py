"""Reading builder output the way Slack would: mrkdwn texts, buttons, inputs and limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk.models.views import View

from bot.blocks import MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT, Message

MAX_VIEW_BLOCKS = 100
# What a hostile user might type as a name, a reason or a display name.
HOSTILE = "<!channel> <https://evil.example|x>"
HOSTILE_PARTS = ("<!channel>", "<https://evil.example", "<!here>")
HOSTILE_ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|x&gt;"


def message_payload(message: Message) -> dict[str, Any]:
    """`as_kwargs()`, which validates every block with slack_sdk, and the message limits."""
    payload = message.as_kwargs()
    assert 1 <= len(payload["blocks"]) <= MAX_MESSAGE_BLOCKS
    _check_sections(payload["blocks"])
    return payload


def view_payload(view: View) -> dict[str, Any]:
    """`to_dict()`, which validates the view and its blocks with slack_sdk, and the limits."""
    payload = view.to_dict()
    assert 1 <= len(payload["blocks"]) <= MAX_VIEW_BLOCKS
    _check_sections(payload["blocks"])
    return payload


def _check_sections(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a payload, depth first."""
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """What Slack renders as mrkdwn: the message's fallback `text` and every mrkdwn object."""
    texts = [payload["text"]] if isinstance(payload.get("text"), str) else []
    texts += [obj["text"] for obj in walk(payload.get("blocks", [])) if obj.get("type") == "mrkdwn"]
    return texts


def shown(payload: dict[str, Any]) -> str:
    """Every mrkdwn text of the payload, one after the other (for `in` checks)."""
    return "\n".join(mrkdwn_texts(payload))


def assert_escaped(payload: dict[str, Any], *, expected: int = 1) -> None:
    """The hostile string reached the payload (escaped, at least `expected` times) and never
    appears raw where Slack would turn it into a ping or a link."""
    texts = mrkdwn_texts(payload)
    for text in texts:
        for part in HOSTILE_PARTS:
            assert part not in text, text
    assert sum(text.count(HOSTILE_ESCAPED) for text in texts) >= expected


def buttons(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every button by its action id (a button may be an accessory or in an actions block)."""
    found = [obj for obj in walk(payload.get("blocks", [])) if obj.get("type") == "button"]
    return {button["action_id"]: button for button in found}


def buttons_in_order(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [obj for obj in walk(payload.get("blocks", [])) if obj.get("type") == "button"]


def inputs(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every input block by its block id."""
    return {block["block_id"]: block for block in payload["blocks"] if block["type"] == "input"}


def section_texts(payload: dict[str, Any]) -> list[str]:
    return [
        block["text"]["text"]
        for block in payload["blocks"]
        if block["type"] == "section" and "text" in block
    ]


def headers(payload: dict[str, Any]) -> list[str]:
    return [block["text"]["text"] for block in payload["blocks"] if block["type"] == "header"]
