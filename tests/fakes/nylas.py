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
import random
import re
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from aiohttp import web

from tests.fakes.http import LocalServer

API_KEY = "nylas-test-api-key-0123456789"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>upstream down</body></html>"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    reset: bool = False  # drop the connection instead of answering
    off_spec: bool = False  # deliberately outside the spec (a field fault), not contract-checked

    def content(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()

    def content_type(self) -> str:
        return "text/html" if isinstance(self.body, str) else "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0
    response: Any = None
    at: float = 0.0
    off_spec: bool = False


@dataclass
class ScriptedFault:
    method: str
    path_pattern: str
    status: int
    times: int
    html: bool = False
    retry_after: str | None = None
    hang: bool = False
    error_as_string: bool = False


OddReply = Literal["html", "no_id", "long_request_id", "reset"]


@dataclass
class OddSuccess:
    """A request that succeeds at Nylas (the grant is made) but is answered oddly, as seen in
    the field: 200 with an HTML page, 201 without `data.id`, a request id longer than usual, or
    the connection dropped before the answer."""

    kind: OddReply
    path_pattern: str
    times: int


@dataclass
class StoredCredential:
    id: str
    provider: str
    name: str
    credential_type: str
    data: dict[str, Any]
    created_at: int
    updated_at: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _error(status: int, error_type: str, message: str, **extra: Any) -> Reply:
    body: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "error": {"type": error_type, "message": message, **extra},
    }
    return Reply(status, body)


@dataclass
class FakeNylas:
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
    # Provider errors Nylas relays on custom auth (see `_provider_refusal`).
    delegation_missing: set[str] = field(default_factory=set)  # Google credential ids
    unknown_mailboxes: set[str] = field(default_factory=set)  # lower-cased emails
    consent_propagates_at: float | None = None  # time.monotonic() before which Microsoft refuses
    requests: list[Recorded] = field(default_factory=list)
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
    _hold: tuple[str, int] | None = None  # (path pattern, requests let through first)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

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

    def hold(self, path_pattern: str, *, after: int) -> None:
        """POSTs matching the pattern after the first `after` wait (as a slow Nylas would)
        until `release()`: a test looks at the bot while its run is under way."""
        self._hold = (path_pattern, after)
        self._released.clear()

    def release(self) -> None:
        self._hold = None
        self._released.set()

    async def _maybe_held(self, method: str, path: str) -> None:
        if self._hold is None or method != "POST" or not re.fullmatch(self._hold[0], path):
            return
        if len(self.calls("POST", self._hold[0])) >= self._hold[1]:
            await self._released.wait()

    def make_chaotic(self, rate: float, *, seed: int) -> None:
        """That share of custom-auth calls meets a random field fault (see `_chaos`)."""
        self.chaos_rate = rate
        self._rng = random.Random(seed)

    def answer_oddly(
        self, kind: OddReply, *, path_pattern: str = "/v3/connect/custom", times: int = 1
    ) -> None:
        """The next `times` successful POSTs matching the pattern do their work, then answer
        with `kind` instead of the normal envelope."""
        self._odd.append(OddSuccess(kind, path_pattern, times))

    def add_grant(
        self,
        email: str,
        *,
        provider: str = "google",
        status: str = "valid",
        credential_id: str | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        grant: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "provider": provider,
            "email": email,
            "grant_status": status,
            "scope": [],
            "created_at": now,
            "updated_at": now,
        }
        if credential_id:
            grant["credential_id"] = credential_id
        self.grants[email.lower()] = grant
        return grant

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

    async def start(self) -> str:
        app = web.Application(client_max_size=5 * 1024**2)
        app.router.add_route("*", "/{path:.*}", self._aiohttp)
        self._server = LocalServer(app)
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        self._stopping.set()  # hung requests end now, not when the server's shutdown times out
        self.release()
        if self._server:
            await self._server.stop()

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
        if self.latency:
            await asyncio.sleep(self.latency)
        await self._maybe_held(method, path)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        record = Recorded(method, path, query, body, at=time.monotonic())
        reply = self._answer(method, path, query, body, authorization)
        record.status, record.response = reply.status, reply.body
        record.off_spec = reply.off_spec
        async with self._changed:
            self.requests.append(record)
            self._changed.notify_all()
        return reply

    # --- behaviour ------------------------------------------------------------------------
    def _answer(
        self, method: str, path: str, query: dict[str, str], body: Any, authorization: str
    ) -> Reply:
        if authorization != f"Bearer {self.api_key}":
            return _error(401, "unauthorized", "Unauthorized")
        fault = self._scripted(method, path)
        if fault is not None:
            return fault
        if self.rate_limit_per_second is not None and self._over_rate():
            self.throttled += 1
            return Reply(
                429,
                {
                    "request_id": str(uuid.uuid4()),
                    "error": {"type": "rate_limit_error", "message": "Too many requests"},
                },
                {"Retry-After": "1"},
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

    def _chaos(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        """One random fault seen in the field: a 5xx or a hang before the work, or an odd
        answer (HTML, no id, dropped connection) after it."""
        kind = self._rng.choice(["5xx", "hang", "html", "no_id", "reset"])
        self.chaos_answered[kind] += 1
        if kind == "5xx":
            return _error(self._rng.choice([500, 502, 503, 504]), "api.internal_error", "boom")
        if kind == "hang":
            return Reply(504, hang=True)
        self._odd.insert(0, OddSuccess(kind, re.escape(path), 1))  # type: ignore[arg-type]
        return self._oddly(path, self._route(method, path, query, body))

    def _oddly(self, path: str, reply: Reply) -> Reply:
        odd = next(
            (o for o in self._odd if o.times > 0 and re.fullmatch(o.path_pattern, path)), None
        )
        if odd is None or not 200 <= reply.status < 300 or not isinstance(reply.body, dict):
            return reply
        odd.times -= 1
        request_id = str(reply.body.get("request_id") or uuid.uuid4())
        if odd.kind == "html":
            page = "<html><body>OK</body></html>"
            return Reply(200, page, {"X-Request-Id": request_id}, off_spec=True)
        if odd.kind == "no_id":
            data = {k: v for k, v in (reply.body.get("data") or {}).items() if k != "id"}
            return Reply(201, {"request_id": request_id, "data": data}, off_spec=True)
        if odd.kind == "long_request_id":
            return Reply(reply.status, {**reply.body, "request_id": "req-" + "7" * 300})
        return Reply(reply.status, reply.body, reset=True, off_spec=True)

    def _scripted(self, method: str, path: str) -> Reply | None:
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.method == method
                and re.fullmatch(fault.path_pattern, path)
            ):
                fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.hang:
                    return Reply(504, hang=True)
                if fault.html:
                    return Reply(fault.status, HTML_502, headers)
                if fault.error_as_string:
                    return Reply(
                        fault.status,
                        {"error": "invalid_request", "error_description": "bad things"},
                        headers,
                    )
                reply = _error(fault.status, "scripted", f"scripted {fault.status}")
                reply.headers.update(headers)
                return reply
        return None

    def _over_rate(self) -> bool:
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= (self.rate_limit_per_second or 0):
            return True
        self._window.append(now)
        return False

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
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(query=query, body=body, **match.groupdict())  # type: ignore[no-any-return]
        return _error(404, "not_found_error", f"Unrecognized request URL {method} {path}")

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str]) -> Reply:
        limit = int(query.get("limit", 10))
        offset = int(query.get("offset", 0))
        return Reply(
            200,
            {
                "request_id": str(uuid.uuid4()),
                "data": items[offset : offset + limit],
                "limit": limit,
                "offset": offset,
            },
        )

    def _list_connectors(self, *, query: dict[str, str], body: Any) -> Reply:
        return self._page(list(self.connectors.values()), query)

    def _get_connector(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        connector = self.connectors.get(provider)
        if connector is None:
            return _error(404, "not_found_error", f"Connector {provider} not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": connector})

    def _create_credential(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        if provider not in self.connectors:
            return _error(404, "not_found_error", f"Connector {provider} not found")
        if (
            not isinstance(body, dict)
            or not {"name", "credential_type", "credential_data"} <= body.keys()
        ):
            return _error(
                400,
                "invalid_request_error",
                "name, credential_type and credential_data are required",
            )
        data = body["credential_data"]
        required = {
            "serviceaccount": {"private_key_id", "private_key", "client_email"},
            "adminconsent": {"tenant"},
            "connector": {"client_id", "client_secret"},
        }
        missing = required.get(body["credential_type"], {"?"}) - set(data)
        if missing:
            return _error(
                400,
                "invalid_request_error",
                f"credential_data is missing {', '.join(sorted(missing))}",
            )
        for existing in self.credentials.values():
            if existing.provider == provider and existing.name == body["name"]:
                if existing.data == data:  # Nylas: identical parameters reuse the record
                    return Reply(201, {"request_id": str(uuid.uuid4()), "data": existing.public()})
                return _error(
                    400,
                    "invalid_request_error",
                    f"A credential named {body['name']} already exists",
                )
        now = int(time.time())
        stored = StoredCredential(
            str(uuid.uuid4()), provider, body["name"], body["credential_type"], data, now, now
        )
        self.credentials[stored.id] = stored
        return Reply(201, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _list_credentials(self, *, provider: str, query: dict[str, str], body: Any) -> Reply:
        items = [c.public() for c in self.credentials.values() if c.provider == provider]
        items.sort(key=lambda c: c["created_at"], reverse=True)
        return self._page(items, query)

    def _credential(self, provider: str, credential_id: str) -> StoredCredential | None:
        stored = self.credentials.get(credential_id)
        return stored if stored and stored.provider == provider else None

    def _get_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        stored = self._credential(provider, id)
        if stored is None:
            return _error(404, "not_found_error", "Credential not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _patch_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        stored = self._credential(provider, id)
        if stored is None:
            return _error(404, "not_found_error", "Credential not found")
        stored.name = body.get("name", stored.name)
        stored.data = body.get("credential_data", stored.data)  # nested object replaced whole
        stored.updated_at = int(time.time())
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": stored.public()})

    def _delete_cred(self, *, provider: str, id: str, query: dict[str, str], body: Any) -> Reply:
        if self._credential(provider, id) is None:
            return _error(404, "not_found_error", "Credential not found")
        del self.credentials[id]
        return Reply(200, {"request_id": str(uuid.uuid4())})

    def _custom_auth(self, *, query: dict[str, str], body: Any) -> Reply:
        settings = body.get("settings") if isinstance(body, dict) else None
        if not isinstance(settings, dict) or body.get("provider") not in ("google", "microsoft"):
            return _error(400, "invalid_request_error", "provider and settings are required")
        provider = body["provider"]
        email = str(settings.get("email_address") or "")
        stored = self._credential(provider, str(settings.get("credential_id")))
        wanted_type = "serviceaccount" if provider == "google" else "adminconsent"
        if stored is None or stored.credential_type != wanted_type:
            return _error(
                400,
                "invalid_request_error",
                f"credential_id is not a {wanted_type} credential of {provider}",
            )
        if not email:
            return _error(400, "invalid_request_error", "settings.email_address is required")
        if provider == "google" and not settings.get("scopes"):
            return _error(400, "invalid_request_error", "settings.scopes is required for Google")
        refusal = self._provider_refusal(provider, stored.id, email)
        if refusal is not None:
            return refusal
        failure = self.permanent_failures.get(email.lower())
        if failure is not None:
            return _error(
                failure[0],
                "provider_error",
                failure[1],
                provider_error={"error": "unauthorized_client"},
            )
        now = int(time.time())
        grant = self.grants.get(email.lower())
        if grant is None:
            grant = self.add_grant(email, provider=provider, credential_id=stored.id)
        grant.update(
            grant_status="valid",
            updated_at=now,
            credential_id=stored.id,
            scope=list(settings.get("scopes") or ["User.Read.All"]),
        )
        return Reply(201, {"request_id": str(uuid.uuid4()), "data": grant})

    def _provider_refusal(self, provider: str, credential_id: str, email: str) -> Reply | None:
        """What Nylas relays when the provider refuses the token for this user: Google's
        `unauthorized_client` (delegation missing for the scopes) and `invalid_grant` (no such
        mailbox), Microsoft's AADSTS65001 (consent not propagated yet). Nylas answers 400 with
        type `provider_error` and the provider's own error in `provider_error`."""
        if provider == "google" and credential_id in self.delegation_missing:
            description = (
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested."
            )
            return _error(
                400,
                "provider_error",
                f"unauthorized_client: {description}",
                provider_error={"error": "unauthorized_client", "error_description": description},
            )
        if provider == "google" and email.lower() in self.unknown_mailboxes:
            return _error(
                400,
                "provider_error",
                "invalid_grant: Invalid email or User ID",
                provider_error={
                    "error": "invalid_grant",
                    "error_description": "Invalid email or User ID",
                },
            )
        waiting = (
            self.consent_propagates_at is not None and time.monotonic() < self.consent_propagates_at
        )
        if provider == "microsoft" and waiting:
            description = (
                "AADSTS65001: The user or administrator has not consented to use the application "
                "with ID 'bulkauth-test-app'. Send an interactive authorization request for this "
                "user and resource."
            )
            return _error(
                400,
                "provider_error",
                description,
                provider_error={
                    "error": "invalid_grant",
                    "error_description": description,
                    "error_codes": [65001],
                },
            )
        return None

    def _list_grants(self, *, query: dict[str, str], body: Any) -> Reply:
        items = list(self.grants.values())
        for key in ("email", "provider", "grant_status"):
            if key in query:
                items = [g for g in items if str(g.get(key)).lower() == query[key].lower()]
        if "since" in query:
            items = [g for g in items if g["created_at"] >= int(query["since"])]
        if "before" in query:
            items = [g for g in items if g["created_at"] <= int(query["before"])]
        sort_key = query.get("sort_by", "created_at")
        items.sort(key=lambda g: (g[sort_key], g["id"]), reverse=query.get("order_by") != "asc")
        return self._page(items, query)

    def _grant_by_id(self, grant_id: str) -> dict[str, Any] | None:
        return next((g for g in self.grants.values() if g["id"] == grant_id), None)

    def _get_grant(self, *, id: str, query: dict[str, str], body: Any) -> Reply:
        grant = self._grant_by_id(id)
        if grant is None:
            return _error(404, "not_found_error", "Grant not found")
        return Reply(200, {"request_id": str(uuid.uuid4()), "data": grant})

    def _delete_grant(self, *, id: str, query: dict[str, str], body: Any) -> Reply:
        grant = self._grant_by_id(id)
        if grant is None:
            return _error(404, "not_found_error", "Grant not found")
        del self.grants[str(grant["email"]).lower()]
        return Reply(200, {"request_id": str(uuid.uuid4())})
