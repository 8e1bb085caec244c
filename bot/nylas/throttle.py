"""The process-wide pace of Nylas calls: a smooth rate limit shared by every call, a concurrency
cap, and a slow-down when Nylas answers 429 (additive increase, multiplicative decrease), so one
throttled worker makes all of them ease off instead of all retrying into the limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter

BURST_SECONDS = 0.04  # at most 40 ms worth of calls at once (2 at 50/s)
SLOWDOWN_STEP = 0.05  # each 429 makes every call cost 5 % more of the budget ...
MAX_SLOWDOWN = 1.0  # ... up to half the configured rate
RECOVERY_PER_SECOND = 0.05  # and the cost falls back by 5 points per quiet second


class Throttle:
    def __init__(self, *, rate_per_second: float, concurrency: int) -> None:
        burst = max(1.0 + MAX_SLOWDOWN, rate_per_second * BURST_SECONDS)
        self.rate_per_second = rate_per_second
        self._limiter = AsyncLimiter(max_rate=burst, time_period=burst / rate_per_second)
        self._slots = asyncio.Semaphore(concurrency)
        self._slowdown = 0.0
        self._slowdown_at = time.monotonic()

    def _current_slowdown(self) -> float:
        quiet = time.monotonic() - self._slowdown_at
        return max(0.0, self._slowdown - quiet * RECOVERY_PER_SECOND)

    @property
    def effective_rate(self) -> float:
        return self.rate_per_second / (1.0 + self._current_slowdown())

    def throttled(self) -> None:
        """Nylas said 429: every caller slows down a step."""
        self._slowdown = min(MAX_SLOWDOWN, self._current_slowdown() + SLOWDOWN_STEP)
        self._slowdown_at = time.monotonic()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._limiter.acquire(1.0 + self._current_slowdown())
            yield
