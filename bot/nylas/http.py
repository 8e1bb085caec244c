"""The HTTP client for Nylas: httpx's API over aiohttp's connection pool (httpx-aiohttp).

httpx's own transport (httpcore over anyio) spent about 650 µs of CPU per request in issue 20's
profile, most of it scanning its pool and in anyio's cancel scopes; the same request over
aiohttp's pool and C parser costs about 250 µs (`python -m benchmarks.nylas_http`). The client's
API, timeouts, errors and proxy settings stay httpx's.
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import HttpxAiohttpClient

from bot import package_version


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
    return HttpxAiohttpClient(
        base_url=api_uri,
        headers={
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"bulkauth/{package_version()}",
        },
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
    )
