"""Slack's mrkdwn as simple, safe HTML for the demo page.

The bot's text is Slack-escaped (`&amp;`, `&lt;`, `&gt;`); real angle brackets are Slack markup:
links `<url|label>`, mentions `<@U…>`, `<#C…>`, `<!here>`. Every piece of text is unescaped from
Slack's entities and then escaped for HTML before any tag is added, so nothing a user typed can
become markup; the only tags added are fixed (`b`, `i`, `s`, `code`, `pre`, `a`, `br`), and links
keep only http, https and mailto addresses.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_MARKUP = re.compile(r"<([^<>]*)>")
_PRE = re.compile(r"```(.+?)```", re.S)
_STYLES = [
    (re.compile(r"`([^`\n]+)`"), "code"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), "s"),
]
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
EMOJI = {  # the shortcodes the bot writes; any other stays as typed
    "x": "❌",
    "white_check_mark": "✅",
    "warning": "⚠️",
    "octagonal_sign": "🛑",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "checkered_flag": "🏁",
    "arrow_forward": "▶️",
    "stopwatch": "⏱️",
    "stethoscope": "🩺",
    "raised_hand": "✋",
    "no_entry": "⛔",
    "key": "🔑",
    "email": "📧",
    "double_vertical_bar": "⏸️",
    "ballot_box_with_check": "☑️",
    "memo": "📝",
}
Names = Callable[[str], str]


def slack_unescape(text: str) -> str:
    """Slack's three entities back to characters (only these three, as Slack does)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _emoji(escaped: str) -> str:
    return _SHORTCODE.sub(lambda found: EMOJI.get(found.group(1), found.group(0)), escaped)


def plain(text: str) -> str:
    """A plain_text object's text: shown as is (its emoji shortcodes as emoji), escaped."""
    return _emoji(html.escape(text, quote=True))


def _styled(escaped: str) -> str:
    for pattern, tag in _STYLES:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return _emoji(escaped)


def _markup(inner: str, names: Names) -> str:
    """One `<…>` of Slack markup, as HTML."""
    target, _bar, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{html.escape(names(target[1:]))}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{html.escape(label or names(target[1:]))}</span>'
    if target.startswith("!date^"):  # Slack shows it in the reader's zone; the fallback here
        return html.escape(slack_unescape(label))
    if target.startswith("!"):
        word = target[1:].split("^")[0]
        return f'<span class="mention">@{html.escape(label or word)}</span>'
    address = slack_unescape(target)
    shown = html.escape(slack_unescape(label or target))
    if not address.lower().startswith(_SAFE_SCHEMES):
        return shown
    href = html.escape(address, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def _text_part(text: str) -> str:
    return _styled(html.escape(slack_unescape(text), quote=True))


def _inline(text: str, names: Names) -> str:
    out: list[str] = []
    last = 0
    for found in _MARKUP.finditer(text):
        out.append(_text_part(text[last : found.start()]))
        out.append(_markup(found.group(1), names))
        last = found.end()
    out.append(_text_part(text[last:]))
    return "".join(out)


def mrkdwn(text: str, names: Names = lambda user_id: user_id) -> str:
    """`text` (mrkdwn) as HTML; `names` turns a user or channel id into the name shown after
    `@` or `#`."""
    out: list[str] = []
    last = 0
    for found in _PRE.finditer(text):
        out.append(_inline(text[last : found.start()], names))
        out.append(f"<pre>{html.escape(slack_unescape(found.group(1).strip(chr(10))))}</pre>")
        last = found.end()
    out.append(_inline(text[last:], names))
    return "".join(out).replace("\n", "<br>")
