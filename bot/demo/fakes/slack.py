"""A fake Slack Web API: a real local HTTP server that records every call and answers like Slack.

Tests assert on `calls` (method, params, token) and await calls with `wait_for`, never sleeping.
Faults are scripted with `fail_next` (for example a 429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.demo.fakes.http import LocalServer, Served
from bot.demo.fakes.slack_endpoints import SlackEndpoints
from bot.demo.fakes.slack_methods import SlackMethods
from bot.demo.fakes.slack_rules import (
    SHOWN_METHODS,
    Fault,
    SlackCall,
    SlackUser,
    UploadedFile,
    mrkdwn_texts,
    unescaped,
)
from bot.ids import BOT_SCOPES

DROPPED = 0  # a fault's status: the connection drops, no answer at all


@dataclass
class FakeSlack(SlackEndpoints, SlackMethods, Served):
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
    response_url_users: dict[str, str] = field(default_factory=dict)  # response URL id -> user
    ephemeral_owners: dict[tuple[str, str], str] = field(default_factory=dict)  # who sees it
    latency: dict[str, float] = field(default_factory=dict)  # seconds before a method answers
    keep_uploads: bool = True
    cut_downloads_at: int | None = None  # serve only this many bytes of a hosted file
    left_channels: set[str] = field(default_factory=set)  # the bot was removed from these
    # chat.* calls into these lose their connection before any answer, every time (a test
    # device: a real outage would take the other channels, and the DM fallback, down too)
    dropped_channels: set[str] = field(default_factory=set)
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

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """The next `times` requests for `method` lose their connection before any answer (a
        network blip: the client raises once its own retries are spent; aiohttp itself retries a
        GET once more)."""
        self._faults.setdefault(method, []).append(Fault(DROPPED, "", None, times))

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

    def response_url(self, channel_id: str = "C0OPS", *, user_id: str | None = None) -> str:
        """A response URL as Slack gives with a command or a click in `channel_id` (by
        `user_id`, who alone sees what is posted to it ephemerally)."""
        response_id = str(next(self._ids))
        self.response_urls[response_id] = channel_id
        if user_id is not None:
            self.response_url_users[response_id] = user_id
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
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024**2)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{file_id}/{rest:.*}", self._download)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/socket", self._socket)
        return app

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
        if status == DROPPED:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never sent: the connection is gone
        headers = {**headers, "X-OAuth-Scopes": ",".join(self.granted_scopes)}  # as Slack does
        await self._answered(call, answer)
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        # before any scripted fault, which a dropped call must not use up
        if method.startswith("chat.") and str(params.get("channel")) in self.dropped_channels:
            return DROPPED, {}, {}
        fault = self._take_fault(method)
        if fault is not None and fault.status == DROPPED:
            return DROPPED, {}, {}
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
