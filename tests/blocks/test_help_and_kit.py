"""The shared kit (`escape`, `short`, `lines_section`, `Message`) and the help answer."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_LINES,
    MAX_SECTION_TEXT,
    Message,
    escape,
    lines_section,
    markdown,
    plain_message,
    short,
)
from bot.blocks.help import COMMANDS, build_help_message
from bot.ids import CommandName, Subcommand
from tests.blocks.payloads import HOSTILE, assert_escaped, message_payload, shown


def test_escape_leaves_no_markup_and_no_code_span_breakout() -> None:
    assert escape(HOSTILE + " & `x`") == (
        "&lt;!channel&gt; &lt;https://evil.example|x&gt; &amp; 'x'"
    )
    assert escape("acme.com") == "acme.com"


def test_escape_of_an_entity_shows_it_literally() -> None:
    # "&lt;" typed by a user must stay those four characters, not become "<".
    assert escape("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"


@pytest.mark.parametrize(("length", "cut"), [(39, False), (40, False), (41, True), (500, True)])
def test_short_cuts_to_the_limit_with_an_ellipsis(length: int, cut: bool) -> None:
    text = "x" * length
    result = short(text)
    assert len(result) == min(length, 40)
    assert result.endswith("…") is cut
    assert short(text, 10) == (text if length <= 10 else "x" * 9 + "…")


def _shown_and_left_out(text: str, heading: str) -> tuple[list[str], int]:
    rows = text.split("\n")
    assert rows[0] == heading
    rows = rows[1:]
    if rows and rows[-1].startswith("…and "):
        count = int(rows[-1].removeprefix("…and ").split(" more")[0].replace(",", ""))
        return rows[:-1], count
    return rows, 0


def test_lines_section_empty_shows_the_heading_and_the_empty_text() -> None:
    assert lines_section("*Runs* (0)", [], empty="No run.").text.text == "*Runs* (0)\n_No run._"
    assert lines_section("", [], empty="Nothing yet.").text.text == "_Nothing yet._"


@pytest.mark.parametrize(
    ("count", "length"),
    [(1, 10), (20, 10), (21, 10), (500, 10), (15, 400), (30, 400), (2, 2990), (1, 4000)],
)
def test_lines_section_fits_slack_and_counts_what_it_leaves_out(count: int, length: int) -> None:
    lines = [f"{index:05d}" + "y" * (length - 5) for index in range(count)]
    section = lines_section("*Heading*", lines, empty="none", more_hint=" (see the CLI)")
    text = section.to_dict()["text"]["text"]  # slack_sdk checks the 3,000 characters too
    assert len(text) <= MAX_SECTION_TEXT
    shown_lines, left_out = _shown_and_left_out(text, "*Heading*")
    assert shown_lines == lines[: len(shown_lines)]  # whole lines, in order
    assert len(shown_lines) <= MAX_SECTION_LINES
    assert len(shown_lines) + left_out == count
    if left_out:
        assert text.endswith("more (see the CLI)")
    if count <= MAX_SECTION_LINES and length <= 100:
        assert left_out == 0


def test_lines_section_without_heading_starts_with_the_first_line() -> None:
    text = lines_section("", ["a", "b"], empty="none").text.text
    assert text == "a\nb"


def test_message_as_kwargs_gives_text_and_block_dicts() -> None:
    payload = plain_message("*hello*").as_kwargs()
    assert payload == {
        "text": "*hello*",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}],
    }


def test_message_refuses_more_than_fifty_blocks() -> None:
    blocks: list[Block] = [markdown(str(index)) for index in range(MAX_MESSAGE_BLOCKS)]
    assert len(Message(text="ok", blocks=blocks).as_kwargs()["blocks"]) == MAX_MESSAGE_BLOCKS
    with pytest.raises(ValueError, match="at most 50 blocks"):
        Message(text="too many", blocks=[*blocks, markdown("one more")]).as_kwargs()


def test_help_lists_every_subcommand() -> None:
    text = shown(message_payload(build_help_message()))
    for subcommand in Subcommand:
        assert f"`{CommandName.BULKAUTH} {subcommand.value}" in text, subcommand
    known = {subcommand.value for subcommand in Subcommand}
    assert all(usage.split()[0] in known for usage, _meaning in COMMANDS)
    assert "Sorry" not in text


def test_help_after_an_unknown_command_quotes_it_escaped() -> None:
    payload = message_payload(build_help_message(not_understood=HOSTILE))
    assert payload["text"].startswith("Sorry, I did not understand `")
    assert_escaped(payload)
    # a backtick cannot close the code span early
    tricky = shown(message_payload(build_help_message(not_understood="x` <!here> `")))
    assert "`x' &lt;!here&gt; '`" in tricky
