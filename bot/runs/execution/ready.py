"""The users a pass has claimed and not sent yet. A sender is promised one, waits for its turn in
Nylas's budget, and only then takes whichever comes first: so users wait here, not in senders queued
for their turns. A claim takes CLAIM_AHEAD_SECONDS of the pass's pace, and the next comes once half
of it is taken: so a pass holds at most 0.6 s of the process's share of the pace (it used to hold up
to three times BULKAUTH_NYLAS_CONCURRENCY, seconds of a replica's share), a replica started during a
slow run finds users left, and replicas sharing a run run out within moments of each other. Each
claim is a database round trip, so claims are not made smaller than that, but near a run's end:
there, with other replicas calling, a claim takes only half of this replica's part of the users
left (`fair_part`), so that they reach the end together instead of one sending its last users
alone, at its share of the budget, while the others' share stands idle."""

from __future__ import annotations

import asyncio
import math
from collections import deque

from storage.runs import ClaimedItem

CLAIM_AHEAD_SECONDS = 0.4
# A call Nylas refuses (429) in a run's last second and a half holds the run's end for its
# answer and its whole-second Retry-After. Once the users left to claim would take a second at
# the application's rate (those claimed and waiting take up to CLAIM_AHEAD_SECONDS more), the
# pass's calls keep a wider margin on Nylas's window (bot/nylas/throttle.py, FINISHING_MARGIN).
LAST_CALLS_SECONDS = 1.0
# ... counted up to this many claims' worth, so that the count costs about what a claim does
# (at a pace far beyond Nylas's limits, a second's users would be thousands).
LAST_CALLS_CLAIMS = 8


def claim_size(rate_per_second: float, most: int) -> int:
    """The users one claim takes at this pace (the pass claims again once half are taken)."""
    return max(1, min(most, math.ceil(rate_per_second * CLAIM_AHEAD_SECONDS)))


def last_calls_of(rate_per_second: float, claim: int) -> int:
    """How few users left to claim make the rest of a run its last calls, for claims of `claim`
    users at most."""
    return min(math.ceil(rate_per_second * LAST_CALLS_SECONDS), LAST_CALLS_CLAIMS * claim)


def fair_part(size: int, *, left: int, replicas: int) -> int:
    """A claim of at most `size` users when `left` wait to be claimed and `replicas` share them."""
    return max(1, min(size, math.ceil(left / (2 * replicas))))


class ReadyUsers:
    def __init__(self) -> None:
        self._users: deque[ClaimedItem] = deque()
        self._promised = 0  # users some sender will take once its turn comes
        self._tickets = asyncio.Semaphore(0)  # one per user added, then one per sender at the end
        self._taken = asyncio.Event()

    def __len__(self) -> int:
        return len(self._users)

    def add(self, users: list[ClaimedItem]) -> None:
        self._users.extend(users)
        for _ in users:
            self._tickets.release()

    def close(self, senders: int) -> None:
        """No more users will come: each sender, once the users left are promised, is told so."""
        for _ in range(senders):
            self._tickets.release()

    async def promised(self) -> bool:
        """Wait until a user is promised to this sender (True) or none will come (False)."""
        await self._tickets.acquire()
        if len(self._users) > self._promised:
            self._promised += 1
            return True
        return False

    def take(self) -> ClaimedItem:
        """The promised user (the first waiting: senders' turns come in their own order)."""
        self._promised -= 1
        self._taken.set()
        return self._users.popleft()

    async def at_most(self, count: int) -> None:
        """Wait until no more than `count` users are waiting."""
        while len(self._users) > count:
            self._taken.clear()
            await self._taken.wait()
