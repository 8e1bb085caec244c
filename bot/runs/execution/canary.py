"""A run's canary: its first users (up to `CANARY_USERS`) are sent alone, one after the other,
before any other. One refused for a reason of the credential or the app (delegation missing, a
deleted credential, an expired secret…) holds the run after a single call instead of thousands.
Every pass starts with one, a replica joining the run or the bot after a restart too: it checks
the credential again. (A joining replica's share of Nylas's budget meanwhile fills as the others
notice it: bot/nylas/throttle.py.)

For Microsoft, "consent not yet propagated" (AADSTS65001, relayed by Nylas) is worth waiting
for: the canary sends the same user again after 1, 2, 4… times the first wait, for at most the
longest wait in all (telling the thread once), then goes on or holds the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.runs.execution.breaker import CANARY_USERS, Trip, canary_verdict
from bot.runs.execution.outcomes import Outcome, RunContext, unsent
from storage.models import ItemStatus
from storage.runs import ClaimedItem

PAUSE_STEP = 1.0  # how often a wait looks whether the run was cancelled


class CanaryControl(Protocol):
    def should_stop(self, run_id: int) -> bool: ...

    async def hold(self, run_id: int, trip: Trip) -> None: ...

    async def propagating(self, run_id: int, *, seconds: float) -> None: ...


@dataclass(frozen=True)
class PropagationWait:
    first_retry: float
    max_wait: float


@dataclass(frozen=True)
class CanaryCalls:
    """What the canary asks of its pass: claim one user, send one, record outcomes."""

    claim_one: Callable[[], Awaitable[list[ClaimedItem] | None]]
    send: Callable[[ClaimedItem], Awaitable[Outcome]]
    record: Callable[[list[Outcome]], Awaitable[None]]


class Canary:
    def __init__(
        self,
        *,
        context: RunContext,
        control: CanaryControl,
        calls: CanaryCalls,
        wait: PropagationWait,
    ) -> None:
        self._context = context
        self._control = control
        self._calls = calls
        self._wait = wait

    async def passes(self) -> bool:
        """True: the run may go wide. False: the pass ends (held, stopped, or nothing left)."""
        sent: list[Outcome] = []
        while len(sent) < CANARY_USERS:
            claimed = await self._calls.claim_one()
            if claimed is None:
                return False
            if not claimed:  # the others hold the rest: nothing for a wide pass here
                return False
            outcome = await self._send_waiting(claimed[0])
            await self._calls.record([outcome])
            if outcome.status is None:  # transient, or stopped: the same user goes again
                if self._control.should_stop(self._context.run_id):
                    return False
                continue
            if outcome.status != ItemStatus.FAILED:
                return True
            sent.append(outcome)
            if (trip := canary_verdict(sent)) is not None:
                await self._control.hold(self._context.run_id, trip)
                return False
        return True  # three different per-user failures: the breaker watches the rest

    async def _send_waiting(self, item: ClaimedItem) -> Outcome:
        """Send; while Microsoft says consent has not propagated yet, wait and send again."""
        waited, delay, told = 0.0, self._wait.first_retry, False
        while True:
            outcome = await self._calls.send(item)
            waits = outcome.problem is not None and outcome.problem.waits
            if not (waits and outcome.status == ItemStatus.FAILED):
                return outcome
            if self._context.provider != "microsoft" or waited >= self._wait.max_wait:
                return outcome
            if not told:
                told = True
                await self._control.propagating(
                    self._context.run_id, seconds=self._wait.max_wait - waited
                )
            delay = min(delay, self._wait.max_wait - waited)
            if not await self._pause(delay):
                return unsent(item)  # cancelled meanwhile (its calls were all refused)
            waited, delay = waited + delay, delay * 2

    async def _pause(self, seconds: float) -> bool:
        """False when the run was stopped during the pause."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            if self._control.should_stop(self._context.run_id):
                return False
            await asyncio.sleep(min(left, PAUSE_STEP))
        return not self._control.should_stop(self._context.run_id)
