"""The HTTP client for Nylas: httpx's API over aiohttp's connection pool (httpx-aiohttp).

httpx's own transport (httpcore over anyio) spent about 650 µs of CPU per request in issue 20's
profile, most of it scanning its pool and in anyio's cancel scopes; the same request over
aiohttp's pool and C parser costs about 250 µs (`python -m benchmarks.nylas_http`). The client's
API, timeouts and errors stay httpx's; a proxy comes from the environment (HTTPS_PROXY, NO_PROXY),
read once (aiohttp's `trust_env` reads it, and ~/.netrc, on every request: 270 µs more each).

The pool also tells when each request leaves for Nylas (`departing`): Nylas counts a call when it
arrives, and the way from a call's turn to the socket varies by a few milliseconds on a busy bot
(issue 20 measured up to 11 ms, most of the variance of the way to Nylas).
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

from bot import package_version

_on_departure: ContextVar[Callable[[], None] | None] = ContextVar("on_departure", default=None)


@contextmanager
def departing(callback: Callable[[], None]) -> Iterator[None]:
    """Requests made within call `callback` as they are written to the socket (the last write
    counts: a request with a body leaves with it)."""
    token = _on_departure.set(callback)
    try:
        yield
    finally:
        _on_departure.reset(token)


async def _written(
    _session: aiohttp.ClientSession, _context: SimpleNamespace, _params: object
) -> None:
    callback = _on_departure.get()  # the request's task, or its body writer (a copy of it)
    if callback is not None:
        callback()


def _session(limits: httpx.Limits, context: ssl.SSLContext) -> aiohttp.ClientSession:
    departures = aiohttp.TraceConfig()
    departures.on_request_headers_sent.append(_written)  # a bodiless request leaves with these
    departures.on_request_chunk_sent.append(_written)  # one with a body, with its last chunk
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry or 5.0,
        ssl=context,
    )
    return aiohttp.ClientSession(connector=connector, trace_configs=[departures])


def environment_proxy(api_uri: str) -> httpx.Proxy | None:
    """The proxy the environment names for Nylas's address (HTTPS_PROXY, else ALL_PROXY; a bare
    host:port means http://), unless NO_PROXY (hosts and domain suffixes) exempts it."""
    url = httpx.URL(api_uri)
    named = urllib.request.getproxies()
    proxy = named.get(url.scheme) or named.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    try:
        return httpx.Proxy(proxy if "://" in proxy else f"http://{proxy}")
    except ValueError:  # the value may hold a password: it stays out of the message
        raise ValueError(f"{url.scheme.upper()}_PROXY (or ALL_PROXY) is not a proxy URL") from None


def nylas_http(
    *,
    api_uri: str,
    api_key: str,
    timeout_seconds: float,
    connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Keep-alive connections to Nylas, at most `connections` at once. `transport`: a test's
    in-process one instead of the network."""
    if transport is None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        pool = AiohttpTransport(limits=limits, proxy=environment_proxy(api_uri))
        pool.client = lambda: _session(limits, pool.ssl_context)  # made on first use, in the loop
        transport = pool
    return HttpxAiohttpClient(
        base_url=api_uri,
        headers={
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"bulkauth/{package_version()}",
        },
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        transport=transport,
    )
