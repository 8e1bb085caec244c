"""Pure Block Kit builders (slack_sdk.models): no I/O, so each is tested as a plain function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

MAX_MESSAGE_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_LINES = 20  # a list longer than this is a job for the CLI or an export


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


def context(text: str) -> ContextBlock:
    """A small grey line of mrkdwn under what it explains."""
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def plain_message(text: str) -> Message:
    return Message(text=text, blocks=[markdown(text)])


def short(text: str, limit: int = 40) -> str:
    """A user-given name cut to fit a list line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lines_section(
    heading: str, lines: list[str], *, empty: str, more_hint: str = ""
) -> SectionBlock:
    """A heading (may be empty) and up to 20 lines in one section, cut at a line boundary to
    fit Slack's 3,000 characters, saying how many lines were left out."""
    shown = [heading] if heading else []
    if not lines:
        return markdown("\n".join([*shown, f"_{empty}_"]))
    size = len(heading)
    for index, line in enumerate(lines):
        note = f"…and {len(lines) - index:,} more{more_hint}"
        last = index + 1 == len(lines)
        room = MAX_SECTION_TEXT - (0 if last else len(note) + 1)
        if index == MAX_SECTION_LINES or size + 1 + len(line) > room:
            shown.append(note)
            break
        shown.append(line)
        size += 1 + len(line)
    return markdown("\n".join(shown))


def packed_sections(lines: list[str], *, most: int, more_hint: str = "") -> list[SectionBlock]:
    """Every line, in order, in at most `most` sections of at most Slack's 3,000 characters
    each; lines that do not fit are counted in a closing "…and N more" line."""
    sections: list[list[str]] = [[]]
    size = 0
    for index, line in enumerate(lines):
        if sections[-1] and size + 1 + len(line) > MAX_SECTION_TEXT:
            if len(sections) == most:
                note = f"…and {len(lines) - index:,} more{more_hint}"
                while sections[-1] and size + 1 + len(note) > MAX_SECTION_TEXT:
                    size -= 1 + len(sections[-1].pop())
                    index -= 1
                    note = f"…and {len(lines) - index:,} more{more_hint}"
                sections[-1].append(note)
                break
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += 1 + len(line)
    return [markdown("\n".join(section)) for section in sections if section]
