"""Block Kit builders checked by slack_sdk's own models: `to_dict()` runs their validation
(lengths, counts, required fields), and parsing the result back must give the same JSON, so
every field is one slack_sdk (and so Slack) knows."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.blocks import Message


def checked_view(view: View) -> dict[str, Any]:
    as_json = view.to_dict()
    assert View(**as_json).to_dict() == as_json
    return as_json


def checked_message(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = message.as_kwargs()["blocks"]
    assert [block.to_dict() for block in Block.parse_all(blocks)] == blocks
    assert message.text  # the notification's fallback
    return blocks


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text of the blocks, in order, one per line."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The buttons of the blocks by their label."""
    return {
        element["text"]["text"]: element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    }
