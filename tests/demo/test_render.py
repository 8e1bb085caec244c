"""The demo page's Block Kit rendering, as plain functions on what the bot's builders produce:
mrkdwn shown simply, and nothing a user typed ever becomes markup or a script."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.blocks.metadata import ModalOrigin
from bot.credentials.messages import (
    Registered,
    build_google_credential_modal,
    build_registered_message,
)
from bot.demo.mrkdwn import mrkdwn, plain
from bot.demo.render import blocks_html
from bot.demo.ui import carried_over, entry_state, find_element, initial_state
from tests.blocks.payloads import message_payload, view_payload

XSS = "<img src=x onerror=alert(1)>"


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    """No image, script, frame or event handler; links only to http(s) and mailto."""
    for tag, attrs in Tags(html).found:
        assert tag not in {"img", "script", "iframe", "object", "embed", "svg", "style"}, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "href" in attrs:
            assert re.match(r"(https?:|mailto:|/demo/)", attrs["href"] or ""), attrs


def test_a_hostile_credential_name_in_the_registered_message_renders_as_text() -> None:
    result = Registered(
        provider="google", name=XSS, credential_id="c-1", client_email="a@b.c", record_id=7
    )
    html = blocks_html(message_payload(build_registered_message(result))["blocks"])
    assert_inert(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_mrkdwn_shows_styles_links_mentions_dates_and_emoji() -> None:
    names = {"U0ADA": "Ada Lovelace", "C0APPROVALS": "approvals"}.get
    html = mrkdwn(
        ":white_check_mark: *Run 1* _done_ by <@U0ADA> in <#C0APPROVALS> at "
        "<!date^1796000000^{time}|10:00 UTC>: `run-1.csv` <https://nylas.com/x?a=1&amp;b=2|docs>",
        lambda some_id: names(some_id) or some_id,
    )
    assert html.startswith("✅ <b>Run 1</b> <i>done</i> by ")
    assert '@Ada Lovelace</span> in <span class="mention">#approvals</span>' in html
    assert "at 10:00 UTC: <code>run-1.csv</code>" in html
    assert 'href="https://nylas.com/x?a=1&amp;b=2"' in html and ">docs</a>" in html


def test_markup_that_is_not_a_safe_link_stays_text() -> None:
    for text in ("<javascript:alert(1)|click>", "&lt;script&gt;alert(1)&lt;/script&gt;", XSS):
        assert_inert(mrkdwn(text))
    assert plain('<b onclick="x">') == "&lt;b onclick=&quot;x&quot;&gt;"
    assert "javascript" not in Tags(mrkdwn("<javascript:alert(1)|click>")).found.__repr__()


def test_the_google_modal_shows_its_inputs_with_their_initial_values() -> None:
    view = view_payload(build_google_credential_modal(ModalOrigin(channel_id="C0OPS")))
    view["blocks"] = [
        {**b, "block_id": b.get("block_id") or f"b{i}"} for i, b in enumerate(view["blocks"])
    ]
    html = blocks_html(view["blocks"], initial_state(view["blocks"]))
    assert_inert(html)
    groups = re.findall(r'role="group" aria-label="([^"]+)"', html)
    assert groups == [
        "Credential name",
        "JSON key file",
        "…or paste the JSON key",
        "Test mailbox",
        "Scopes to test",
        "If the check fails",
    ]
    assert re.search(
        r'<option value="https://www.googleapis.com/auth/gmail.readonly" selected>', html
    )
    assert 'data-kind="file_input"' in html and 'accept=".json"' in html


def test_entries_become_slack_state_and_survive_an_update_of_the_view() -> None:
    view = view_payload(build_google_credential_modal(ModalOrigin(channel_id="C0OPS")))
    blocks = view["blocks"]
    state = initial_state(blocks)
    scopes = next(b for b in blocks if b.get("label", {}).get("text") == "Scopes to test")
    _block, element = find_element(blocks, scopes["block_id"], scopes["element"]["action_id"])
    entry = entry_state(element, ["https://www.googleapis.com/auth/calendar"])
    assert entry["selected_options"] == [
        {
            "text": {"type": "plain_text", "text": "Calendar: full", "emoji": True},
            "value": "https://www.googleapis.com/auth/calendar",
        }
    ]
    state[scopes["block_id"]][element["action_id"]] = entry
    kept = carried_over(state, blocks)
    assert kept[scopes["block_id"]][element["action_id"]] == entry
    html = blocks_html(blocks, kept)
    assert '<option value="https://www.googleapis.com/auth/calendar" selected>' in html


def test_plain_text_shows_emoji_shortcodes_as_slack_does_and_unknown_ones_as_typed() -> None:
    assert plain(":x: Cancel run :not_an_emoji:") == "❌ Cancel run :not_an_emoji:"
