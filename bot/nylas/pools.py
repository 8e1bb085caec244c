"""The HTTP connections to Nylas: a few small pools of HTTP/1.1 keep-alive connections, taken in
turn. httpcore looks at every connection of its pool (a socket check each) on every request, so
several small pools cost far less CPU per call than one big one (issue 20's profile)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx

from bot import package_version

HTTP_POOLS = 8
POOL_CONNECTIONS = 16  # 128 in all, more than BULKAUTH_NYLAS_CONCURRENCY needs


class HttpPools:
    def __init__(
        self,
        *,
        api_uri: str,
        api_key: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._pools = [
            httpx.AsyncClient(
                base_url=api_uri,
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Accept": "application/json",
                    "User-Agent": f"bulkauth/{package_version()}",
                },
                timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
                limits=httpx.Limits(
                    max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS
                ),
                transport=transport,
            )
            for _ in range(1 if transport is not None else HTTP_POOLS)  # a test's: one
        ]
        self._turns: Iterator[httpx.AsyncClient] = itertools.cycle(self._pools)

    def next(self) -> httpx.AsyncClient:
        return next(self._turns)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
