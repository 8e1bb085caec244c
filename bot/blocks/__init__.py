"""Pure Block Kit builders (slack_sdk.models): no I/O, so each is tested as a plain function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

MAX_MESSAGE_BLOCKS = 50


@dataclass(frozen=True)
class Message:
    """A message: the notification `text` fallback plus its blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        if len(self.blocks) > MAX_MESSAGE_BLOCKS:
            raise ValueError(f"a message holds at most {MAX_MESSAGE_BLOCKS} blocks")
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def escape(text: str) -> str:
    """Escape user-provided text for mrkdwn so it cannot ping @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def markdown(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def plain_message(text: str) -> Message:
    return Message(text=text, blocks=[markdown(text)])
