"""A fake Nylas v3 admin API that behaves like the real one where the bot can tell.

The same `FakeNylas` serves two ways: as a real local HTTP server (`start()`) for end-to-end
tests and benchmarks, and as an `httpx.MockTransport` (`transport()`) for client unit tests.
It keeps envelopes, offset pagination, error bodies, a per-second rate limit answered with 429
and Retry-After, HTML 5xx pages, latency, hangs and scripted faults.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from bot.demo.fakes.http import LocalServer, Served
from bot.demo.fakes.identity import consent_page
from bot.demo.fakes.nylas_faults import NylasFaults
from bot.demo.fakes.nylas_providers import ProviderRefusals
from bot.demo.fakes.nylas_records import (
    API_KEY,
    OddReply,
    OddSuccess,
    Recorded,
    Reply,
    ScriptedFault,
    StoredCredential,
    error_reply,
)
from bot.demo.fakes.nylas_routes import NylasRoutes
from bot.demo.fakes.nylas_webhooks import Delivery, NylasWebhooks


@dataclass
class FakeNylas(NylasFaults, ProviderRefusals, NylasRoutes, NylasWebhooks, Served):
    api_key: str = API_KEY
    latency: float = 0.0
    rate_limit_per_second: int | None = None
    transient_error_rate: float = 0.0
    connectors: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "google": {"provider": "google", "name": "Google", "scope": [], "settings": {}},
            "microsoft": {
                "provider": "microsoft",
                "name": "Microsoft",
                "scope": [],
                "settings": {"tenant": "common"},
            },
        }
    )
    credentials: dict[str, StoredCredential] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower-cased email
    permanent_failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    # Provider errors Nylas relays on custom auth (see `ProviderRefusals`).
    delegation_missing: set[str] = field(default_factory=set)  # Google credential ids
    unknown_mailboxes: set[str] = field(default_factory=set)  # lower-cased emails
    consent_propagates_at: float | None = None  # time.monotonic() before which Microsoft refuses
    requests: list[Recorded] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # destinations, by id
    deliveries: list[Delivery] = field(default_factory=list)  # notifications sent
    throttled: int = 0
    url: str = ""
    seed: int = 7
    chaos_rate: float = 0.0  # share of custom-auth calls that meet a random field fault
    chaos_answered: Counter[str] = field(default_factory=Counter)
    _faults: list[ScriptedFault] = field(default_factory=list)
    _odd: list[OddSuccess] = field(default_factory=list)
    _window: deque[float] = field(default_factory=deque)
    _rng: random.Random = field(init=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LocalServer | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _hold: tuple[str, str, int] | None = None  # (method, path pattern, requests let through)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0  # requests waiting for `release()` now

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # --- test controls ------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        times: int = 1,
        html: bool = False,
        retry_after: str | None = None,
        hang: bool = False,
        error_as_string: bool = False,
    ) -> None:
        """The next `times` matching requests get this fault (pattern is a regex on the path)."""
        self._faults.append(
            ScriptedFault(
                method, path_pattern, status, times, html, retry_after, hang, error_as_string
            )
        )

    def hold(self, path_pattern: str, *, after: int, method: str = "POST") -> None:
        """Requests (POSTs unless told) matching the pattern after the first `after` wait (as a
        slow Nylas would) until `release()`: a test looks at the bot while its run is under way."""
        self._hold = (method, path_pattern, after)
        self._released.clear()

    def release(self) -> None:
        self._hold = None
        self._released.set()

    async def _maybe_held(self, method: str, path: str) -> None:
        if self._hold is None:
            return
        held_method, pattern, after = self._hold
        if method != held_method or not re.fullmatch(pattern, path):
            return
        if len(self.calls(held_method, pattern)) >= after:
            await self._held_until_released()

    async def _held_until_released(self) -> None:
        async with self._changed:
            self.held += 1
            self._changed.notify_all()
        try:
            await self._released.wait()
        finally:
            self.held -= 1

    async def wait_held(self, count: int, *, timeout: float = 10.0) -> None:
        """Until `count` requests wait for `release()` (a test acts while they are in flight)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.held >= count)

    def make_chaotic(self, rate: float, *, seed: int) -> None:
        """That share of custom-auth calls meets a random field fault (see `_chaos`)."""
        self.chaos_rate = rate
        self._rng = random.Random(seed)

    def answer_oddly(
        self, kind: OddReply, *, path_pattern: str = "/v3/connect/custom", times: int = 1
    ) -> None:
        """The next `times` successful requests (any method) matching the pattern do their
        work, then answer with `kind` instead of the normal envelope."""
        self._odd.append(OddSuccess(kind, path_pattern, times))

    def calls(self, method: str, path_pattern: str = ".*") -> list[Recorded]:
        return [
            r for r in self.requests if r.method == method and re.fullmatch(path_pattern, r.path)
        ]

    async def wait_for(
        self, method: str, path_pattern: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[Recorded]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls(method, path_pattern)) >= count)
        return self.calls(method, path_pattern)

    # --- serving ----------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            reply = await self.handle(
                request.method,
                request.url.path,
                dict(request.url.params),
                request.content,
                request.headers.get("authorization", ""),
            )
            if reply.hang:
                raise httpx.ReadTimeout("fake hang", request=request)
            if reply.reset:
                raise httpx.RemoteProtocolError("fake reset", request=request)
            return httpx.Response(
                reply.status,
                content=reply.content(),
                headers={"content-type": reply.content_type(), **reply.headers},
            )

        return httpx.MockTransport(handler)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=5 * 1024**2)
        app.router.add_get("/v3/connect/auth", consent_page)  # a browser's page, not the API
        app.router.add_route("*", "/{path:.*}", self._aiohttp)
        return app

    async def stop(self) -> None:
        self._stopping.set()  # hung requests end now, not when the server's shutdown times out
        self.release()
        await super().stop()

    async def _aiohttp(self, request: web.Request) -> web.StreamResponse:
        reply = await self.handle(
            request.method,
            request.path,
            dict(request.query),
            await request.read(),
            request.headers.get("Authorization", ""),
        )
        if reply.hang:
            await self._stopping.wait()
        if reply.reset and request.transport is not None:
            request.transport.abort()  # the work is done; the answer never leaves
            raise web.HTTPServiceUnavailable()  # never sent: the connection is gone
        return web.Response(
            status=reply.status,
            body=reply.content(),
            content_type=reply.content_type(),
            headers=reply.headers,
        )

    async def handle(
        self, method: str, path: str, query: dict[str, str], raw: bytes, authorization: str
    ) -> Reply:
        arrived = time.monotonic()
        over_rate = self._over_rate()  # Nylas counts a request when it arrives
        if self.latency:
            await asyncio.sleep(self.latency)
        await self._maybe_held(method, path)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        record = Recorded(method, path, query, body, at=time.monotonic(), arrived=arrived)
        precheck = await self._webhook_precheck(method, path, body, authorization)
        reply = precheck or self._answer(method, path, query, body, authorization, over_rate)
        record.status, record.response = reply.status, reply.body
        record.off_spec = reply.off_spec
        async with self._changed:
            self.requests.append(record)
            self._changed.notify_all()
        return reply

    # --- behaviour ------------------------------------------------------------------------
    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        authorization: str,
        over_rate: float | None = None,
    ) -> Reply:
        if authorization != f"Bearer {self.api_key}":
            return error_reply(401, "unauthorized", "Unauthorized")
        fault = self._scripted(method, path)
        if fault is not None:
            return fault
        if over_rate is not None:
            self.throttled += 1
            return Reply(
                429,
                {
                    "request_id": str(uuid.uuid4()),
                    "error": {
                        "type": "nylas_rate_limit_exceeded",
                        "message": "Too many requests",
                    },
                },
                {"Retry-After": str(max(1, math.ceil(over_rate)))},
            )
        chaos_applies = method == "POST" and path == "/v3/connect/custom"
        if chaos_applies and self.chaos_rate and self._rng.random() < self.chaos_rate:
            return self._chaos(method, path, query, body)
        if self.transient_error_rate and self._rng.random() < self.transient_error_rate:
            return Reply(
                503,
                {
                    "request_id": str(uuid.uuid4()),
                    "error": {"type": "api.internal_error", "message": "Service unavailable"},
                },
            )
        return self._oddly(path, self._route(method, path, query, body))

    def _over_rate(self) -> float | None:
        """Nylas's limit per application: at most `rate_limit_per_second` requests accepted in
        any one-second window (refused ones do not count). Over it: the seconds until the window
        has room again (for Retry-After, whole seconds); else None, and this request counts."""
        if self.rate_limit_per_second is None:
            return None
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit_per_second:
            return self._window[0] + 1.0 - now
        self._window.append(now)
        return None

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/v3/connectors", self._list_connectors),
            ("GET", r"/v3/connectors/(?P<provider>[a-z-]+)", self._get_connector),
            ("POST", r"/v3/connectors/(?P<provider>[a-z-]+)/creds", self._create_credential),
            ("GET", r"/v3/connectors/(?P<provider>[a-z-]+)/creds", self._list_credentials),
            ("GET", r"/v3/connectors/(?P<provider>[a-z-]+)/creds/(?P<id>[^/]+)", self._get_cred),
            (
                "PATCH",
                r"/v3/connectors/(?P<provider>[a-z-]+)/creds/(?P<id>[^/]+)",
                self._patch_cred,
            ),
            (
                "DELETE",
                r"/v3/connectors/(?P<provider>[a-z-]+)/creds/(?P<id>[^/]+)",
                self._delete_cred,
            ),
            ("POST", r"/v3/connect/custom", self._custom_auth),
            ("GET", r"/v3/grants", self._list_grants),
            ("GET", r"/v3/grants/(?P<id>[^/]+)", self._get_grant),
            ("DELETE", r"/v3/grants/(?P<id>[^/]+)", self._delete_grant),
            *self._webhook_routes(),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(query=query, body=body, **match.groupdict())  # type: ignore[no-any-return]
        return error_reply(404, "not_found_error", f"Unrecognized request URL {method} {path}")
