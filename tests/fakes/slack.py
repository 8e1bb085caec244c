"""A fake Slack Web API: a real local HTTP server that records every call and answers like Slack.

Tests assert on `calls` (method, params, token) and await calls with `wait_for`, never sleeping.
Faults are scripted with `fail_next` (for example a 429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.ids import BOT_SCOPES
from tests.fakes.http import LocalServer

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


@dataclass
class FakeSlack:
    users: dict[str, SlackUser] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    hosted_files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, UploadedFile] = field(default_factory=dict)
    response_url_posts: list[dict[str, Any]] = field(default_factory=list)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Messages only one user sees (chat.postEphemeral, response URLs), by (channel, ts).
    ephemerals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    response_urls: dict[str, str] = field(default_factory=dict)  # response URL id -> channel
    latency: dict[str, float] = field(default_factory=dict)  # seconds before a method answers
    keep_uploads: bool = True
    cut_downloads_at: int | None = None  # serve only this many bytes of a hosted file
    left_channels: set[str] = field(default_factory=set)  # the bot was removed from these
    granted_scopes: tuple[str, ...] = BOT_SCOPES  # what the installed bot token may do
    chaos: dict[str, float] = field(default_factory=dict)  # method: share answered 429
    chaos_answered: int = 0
    deleted_files: list[str] = field(default_factory=list)
    # User groups: id -> (handle, member ids), as usergroups.list / usergroups.users.list show.
    usergroups: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    url: str = ""
    _faults: dict[str, list[Fault]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _server: LocalServer | None = None
    _rng: random.Random = field(default_factory=random.Random)

    # --- test controls -------------------------------------------------------------------
    def make_chaotic(self, rates: dict[str, float], *, seed: int) -> None:
        """Answer that share of calls to each method with 429 ratelimited (Retry-After 1)."""
        self.chaos = dict(rates)
        self._rng = random.Random(seed)

    def add_user(self, user_id: str, name: str, *, admin: bool = False) -> SlackUser:
        self.users[user_id] = SlackUser(id=user_id, name=name, is_admin=admin)
        return self.users[user_id]

    def post_as(self, user_id: str, channel: str, text: str) -> str:
        """A message someone (not the bot) posted in a channel; returns its ts."""
        ts = self._ts()
        self.messages[(channel, ts)] = {"channel": channel, "ts": ts, "user": user_id, "text": text}
        return ts

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        self._faults.setdefault(method, []).append(Fault(status, error, retry_after, times))

    def host_file(self, content: bytes, *, filename: str = "key.json") -> dict[str, Any]:
        """A file as Slack describes it in a file_input submission; the bytes are served here."""
        file_id = f"F{next(self._ids):06d}"
        self.hosted_files[file_id] = content
        return {
            "id": file_id,
            "name": filename,
            "title": filename,
            "filetype": filename.rsplit(".", 1)[-1],
            "mimetype": "application/json" if filename.endswith(".json") else "text/plain",
            "size": len(content),
            "url_private": f"{self.url}/files/{file_id}/{filename}",
            "url_private_download": f"{self.url}/files/{file_id}/download/{filename}",
        }

    def response_url(self, channel_id: str = "C0OPS") -> str:
        """A response URL as Slack gives with a command or a click in `channel_id`."""
        response_id = str(next(self._ids))
        self.response_urls[response_id] = channel_id
        return f"{self.url}/response/{response_id}"

    def latest_view(self) -> dict[str, Any]:
        return list(self.views.values())[-1]

    def unescaped_markup(self) -> list[str]:
        """Texts the bot showed in which Slack would render a ping or a link it did not mean
        (user input that reached mrkdwn unescaped)."""
        return [
            text
            for call in self.calls
            if call.method in SHOWN_METHODS
            for text in mrkdwn_texts(call.params)
            if unescaped(text)
        ]

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] = lambda _call: True,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[SlackCall]:
        """Wait until `count` calls to `method` match `predicate`; returns them."""

        def matching() -> list[SlackCall]:
            return [call for call in self.calls_to(method) if predicate(call)]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    # --- server ----------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=20 * 1024**2)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{file_id}/{rest:.*}", self._download)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._server = LocalServer(app)
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        if self._server:
            await self._server.stop()

    async def _record(self, call: SlackCall) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _answered(self, call: SlackCall, response: dict[str, Any]) -> None:
        async with self._changed:
            call.response = response
            self._changed.notify_all()

    async def answer_of(self, call: SlackCall, *, timeout: float = 10.0) -> dict[str, Any]:
        """What the fake answered to `call` (waiting until it has)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: call.response is not None)
        assert call.response is not None
        return call.response

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else params.get("token")
        call = SlackCall(method=method, params=params, token=token)
        await self._record(call)
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])  # a slow Slack, as seen from the bot
        status, headers, answer = self._answer(method, params, token)
        headers = {**headers, "X-OAuth-Scopes": ",".join(self.granted_scopes)}  # as Slack does
        await self._answered(call, answer)
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        fault = self._take_fault(method)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return fault.status, headers, {"ok": False, "error": fault.error}
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        # apps.connections.open takes the app-level token, every other method the bot token.
        if not token.startswith("xapp-" if method == "apps.connections.open" else "xoxb-"):
            return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method"}
        if method.startswith("chat.") and str(params.get("channel")) in self.left_channels:
            return 200, {}, {"ok": False, "error": "not_in_channel"}
        return 200, {}, handler(params)

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str) -> Fault | None:
        if self.chaos.get(method) and self._rng.random() < self.chaos[method]:
            self.chaos_answered += 1
            return Fault(429, "ratelimited", 1, 1)
        queue = self._faults.get(method) or []
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    def _ts(self) -> str:
        return f"{time.time():.6f}".replace(".", "")[:10] + f".{next(self._ids):06d}"

    # --- Web API methods ----------------------------------------------------------------------
    def _m_auth_test(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "bulkauth",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _m_apps_connections_open(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://", 1) + "/socket"}

    def _m_usergroups_list(self, _p: dict[str, Any]) -> dict[str, Any]:
        groups = [
            {"id": group_id, "team_id": TEAM_ID, "handle": handle, "name": handle.title()}
            for group_id, (handle, _members) in self.usergroups.items()
        ]
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(p.get("usergroup") or ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group[1])}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.as_api()}

    @staticmethod
    def _message(p: dict[str, Any], ts: str) -> dict[str, Any]:
        """A message as Slack stores and shows it: generated ids filled in, sent by the bot."""
        if isinstance(p.get("blocks"), str):
            p["blocks"] = json.loads(p["blocks"])
        assign_ids(p.get("blocks") or [])
        return {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": "A0BULK",
            "team": TEAM_ID,
            **p,
            "ts": ts,
        }

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if channel.startswith("U"):  # a DM to a user id opens the IM channel
            channel = "D" + channel[1:]
        ts = self._ts()
        message = {**self._message(p, ts), "channel": channel}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        """Newest first, `limit` per page, an opaque cursor while more remain (as Slack does)."""
        channel = str(p.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        found = [m for (posted_in, _ts), m in self.messages.items() if posted_in == channel]
        found.sort(key=lambda message: message["ts"], reverse=True)
        start = int(p.get("cursor") or 0)
        limit = min(int(p.get("limit") or 100), 999)
        page = [
            {"type": "message", "ts": m["ts"], "user": m.get("user"), "text": m.get("text", "")}
            for m in found[start : start + limit]
        ]
        more = start + limit < len(found)
        metadata = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": metadata}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        ts = self._ts()
        channel = str(p.get("channel") or "")
        self.ephemerals[(channel, ts)] = {**self._message(p, ts), "channel": channel}
        return {"ok": True, "message_ts": ts}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        key = (str(p["channel"]), str(p["ts"]))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = {**self.messages[key], **self._message(p, key[1])}
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _view(
        self, view: dict[str, Any] | str, view_id: str | None = None, *, root: str | None = None
    ) -> dict[str, Any]:
        """Store a view as Slack does (generated ids, a new hash) and answer with it."""
        view = view if isinstance(view, dict) else json.loads(view)
        if problem := block_problem(view.get("blocks"), MAX_VIEW_BLOCKS):
            return {"ok": False, "error": "invalid_arguments", "response_metadata": [problem]}
        assign_ids(view.get("blocks") or [])
        view_id = view_id or f"V{next(self._ids):06d}"
        previous = self.views.get(view_id) or {}
        stored = {
            "team_id": TEAM_ID,
            "app_id": "A0BULK",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            **view,
            "id": view_id,
            "root_view_id": previous.get("root_view_id") or root or view_id,
            "hash": f"{int(time.time())}.h{next(self._ids)}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
        }
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def apply_response_action(
        self, view_id: str, ack: dict[str, Any], *, submitted_hash: str
    ) -> str | None:
        """What Slack does with a view_submission's ack: `update` replaces the submitted view
        (unless the app already changed it since), `push` stacks a new one; returns the view
        now on top, or None when the modal closed."""
        action = ack.get("response_action")
        if action == "errors":
            return view_id
        if action == "update":
            if self.views[view_id]["hash"] == submitted_hash:
                self._view(ack["view"], view_id)
            return view_id
        if action == "push":
            root = self.views[view_id]["root_view_id"]
            return str(self._view(ack["view"], root=root)["view"]["id"])
        return None

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view(p["view"])

    def _m_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._view(p["view"])

    def _m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view_id = str(p.get("view_id") or "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if p.get("hash") and p["hash"] != self.views[view_id]["hash"]:
            return {"ok": False, "error": "hash_conflict"}  # the user changed it meanwhile
        return self._view(p["view"], view_id)

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        user_id = str(p.get("user_id") or "")
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        answer = self._view(p["view"], f"home:{user_id}")
        if answer["ok"]:
            self.home_views[user_id] = answer["view"]
        return answer

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("users", "")).split(",")[0]
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        self.uploads[file_id] = UploadedFile(id=file_id, filename=str(p.get("filename")))
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p["files"] if isinstance(p["files"], list) else json.loads(p["files"])
        for entry in files:
            upload = self.uploads[entry["id"]]
            upload.title = entry.get("title")
            upload.channel_id = p.get("channel_id")
            upload.thread_ts = p.get("thread_ts")
        return {"ok": True, "files": [{"id": entry["id"]} for entry in files]}

    def _m_files_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file"))
        if file_id not in self.hosted_files:
            return {"ok": False, "error": "file_not_found"}
        self.deleted_files.append(file_id)
        return {"ok": True}

    # --- non-API endpoints ----------------------------------------------------------------
    async def _download(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        content = self.hosted_files.get(request.match_info["file_id"])
        if content is None:
            return web.Response(status=404)
        await self._record(
            SlackCall(
                "files.download",
                {"file": request.match_info["file_id"]},
                request.headers["Authorization"].removeprefix("Bearer "),
            )
        )
        # Served in pieces, as Slack's file host streams a large file: a reader must keep
        # reading until the end, not take the first piece that arrived for the whole file.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if self.cut_downloads_at is None:
            response.content_length = len(content)
        else:  # a transfer that ends early without saying so (chunked, no length)
            content = content[: self.cut_downloads_at]
        await response.prepare(request)
        for start in range(0, len(content), DOWNLOAD_PIECE_BYTES):
            await response.write(content[start : start + DOWNLOAD_PIECE_BYTES])
            await asyncio.sleep(0.001)
        await response.write_eof()
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads[request.match_info["file_id"]]
        if not self.keep_uploads:  # a sink for benchmarks: count the bytes, hold none
            async for chunk in request.content.iter_chunked(64 * 1024):
                upload.size += len(chunk)
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            upload.content = await part.read() if part is not None else b""  # type: ignore[union-attr]
        else:
            upload.content = await request.read()
        upload.size = upload.size or len(upload.content)
        await self._record(SlackCall("files.upload_bytes", {"file": upload.id}, None))
        return web.Response(text="OK - uploaded")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello as Slack does, then hold the connection until the app leaves."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await self._record(SlackCall("socket.connected", {}, None))
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for _message in socket:  # acks and pings; Slack would also send events here
            pass
        await self._record(SlackCall("socket.closed", {}, None))
        return socket

    async def _response_url(self, request: web.Request) -> web.Response:
        payload = await request.json()
        if problem := block_problem(payload.get("blocks"), MAX_MESSAGE_BLOCKS):
            await self._record(SlackCall("response_url_refused", {"problem": problem}, None))
            return web.Response(status=400, text="invalid_blocks")
        self.response_url_posts.append(payload)
        call = SlackCall("response_url", payload, None)
        await self._record(call)
        # Posted ephemerally (the default) in the channel the response URL belongs to.
        channel = self.response_urls.get(request.match_info["id"], "")
        ts = self._ts()
        self.ephemerals[(channel, ts)] = {**self._message(dict(payload), ts), "channel": channel}
        await self._answered(call, {"ok": True, "channel": channel, "message_ts": ts})
        return web.Response(text="ok")
