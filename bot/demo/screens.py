"""What one demo person sees, as HTML pieces for the page: each channel's messages (threads,
edits in place, ephemerals only to their owner, uploaded files with a download link) and the
modal on top of their stack."""

from __future__ import annotations

import hashlib
import html
import json
import time
from typing import Any

from bot.demo.fakes.slack import FakeSlack
from bot.demo.mrkdwn import Names, mrkdwn, plain
from bot.demo.render import attr, blocks_html, text_html
from bot.demo.session import DemoSession


def names_in(slack: FakeSlack, channels: dict[str, str]) -> Names:
    def name(some_id: str) -> str:
        user = slack.users.get(some_id)
        return user.name if user is not None else channels.get(some_id, some_id)

    return name


def _clock(ts: str) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(float(ts.split(".")[0])))
    except ValueError:
        return ""


def message_html(message: dict[str, Any], *, ephemeral: bool, names: Names) -> str:
    author = "bulkauth" if message.get("bot_id") else names(str(message.get("user", "")))
    badge = '<span class="app">APP</span>' if message.get("bot_id") else ""
    only = '<span class="only">Only visible to you</span>' if ephemeral else ""
    blocks = message.get("blocks") or []
    body = (
        blocks_html(blocks, names=names) if blocks else mrkdwn(str(message.get("text", "")), names)
    )
    ts = str(message.get("ts", ""))
    return (
        f'<div class="msg{" eph" if ephemeral else ""}" '
        f'data-channel="{attr(message.get("channel", ""))}" data-ts="{attr(ts)}">'
        f'<div class="who"><b>{plain(author)}</b>{badge}<time>{_clock(ts)}</time>'
        f'{only}</div><div class="body">{body}</div>'
    )


def _file_html(file_id: str, name: str, title: str | None) -> str:
    link = f"/demo/files/{html.escape(file_id, quote=True)}"
    return (
        '<div class="msg file"><div class="who"><b>bulkauth</b><span class="app">APP</span></div>'
        f'<div class="body">📄 {plain(title or name)} '
        f'<a class="download" href="{link}" download="{attr(name)}">Download {plain(name)}</a>'
        "</div></div>"
    )


def channel_html(slack: FakeSlack, channel: str, user_id: str, names: Names) -> str:
    """The channel as `user_id` sees it, oldest first; replies under their thread's parent."""
    shown = [(m, False) for (c, _ts), m in slack.messages.items() if c == channel]
    shown += [
        (m, True)
        for key, m in slack.ephemerals.items()
        if key[0] == channel and slack.ephemeral_owners.get(key) == user_id
    ]
    shown.sort(key=lambda pair: str(pair[0].get("ts", "")))
    files = [u for u in slack.uploads.values() if u.channel_id == channel and u.content]
    replies: dict[str, list[str]] = {}
    parents: list[tuple[str, str]] = []
    for message, ephemeral in shown:
        piece = message_html(message, ephemeral=ephemeral, names=names)
        thread = str(message.get("thread_ts") or "")
        if thread and thread != message.get("ts"):
            replies.setdefault(thread, []).append(piece + "</div>")
        else:
            parents.append((str(message.get("ts")), piece))
    for upload in files:
        replies.setdefault(upload.thread_ts or "", []).append(
            _file_html(upload.id, upload.filename, upload.title)
        )
    out = []
    for ts, piece in parents:
        thread = "".join(replies.pop(ts, []))
        out.append(piece + (f'<div class="thread">{thread}</div>' if thread else "") + "</div>")
    out.extend(piece for pieces in replies.values() for piece in pieces)  # threads not shown
    return "".join(out) or '<p class="empty">No messages yet.</p>'


def modal_html(view: dict[str, Any], errors: dict[str, str], names: Names) -> str:
    submit = view.get("submit")
    close = text_html(view.get("close"), names) if view.get("close") else "Close"
    submit_button = (
        f'<button class="btn primary" data-submit>{text_html(submit, names)}</button>'
        if submit
        else ""
    )
    body = blocks_html(view.get("blocks") or [], view["state"]["values"], errors, names)
    return (
        f'<div class="modal" data-view="{attr(view["id"])}">'
        f'<div class="mhead"><span class="title">{text_html(view.get("title"), names)}</span>'
        '<button class="x" data-close title="Close">✕</button></div>'
        f'<div class="mbody">{body}</div><div class="mfoot">'
        f'<button class="btn" data-close>{close}</button>{submit_button}</div></div>'
    )


def screen_json(session: DemoSession, user_id: str, channels: dict[str, str]) -> dict[str, Any]:
    """Everything the page shows `user_id`; `key`s change only when the piece does."""
    names = names_in(session.slack, channels)
    screen = session.screen(user_id)
    direct = "D" + user_id[1:]
    panes = [*channels.items(), (direct, f"bulkauth (direct messages to {names(user_id)})")]
    out: dict[str, Any] = {"channels": [], "modal": None}
    for channel, title in panes:
        piece = channel_html(session.slack, channel, user_id, names)
        out["channels"].append({"id": channel, "name": title, "html": piece})
    if screen.stack:
        view_id = screen.stack[-1]
        view, values = session.view_state(user_id, view_id)
        errors = screen.errors.get(view_id) or {}
        shown = modal_html({**view, "state": {"values": values}}, errors, names)
        key = hashlib.sha256(f"{view_id}{view['hash']}{json.dumps(errors)}".encode()).hexdigest()
        out["modal"] = {"id": view_id, "key": key[:16], "html": shown}
    return out
