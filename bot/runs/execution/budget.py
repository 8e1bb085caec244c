"""Sharing Nylas's budget between replicas. Nylas limits requests per application, so replicas
working runs at the same time (on one PostgreSQL) must not exceed BULKAUTH_NYLAS_RPS together. Four
times a second (once a second while no run is worked anywhere) each process counts the workers
holding fresh claims on running runs' items (a claim is fresh while its worker heart-beats: the same
lease that hands a stopped worker's items over), and those that said what they hold (below), and
paces its calls to an equal share: rate / (those others + itself). A replica that stops counts until
its claims go stale (BULKAUTH_ITEM_LEASE_SECONDS); one that joins, or one whose last users are
answered, is counted anew within a quarter of a second (an indexed query), so the others neither
overshoot nor leave the budget idle for long. A run's pass also counts them before its canary's
claim and once its canary passed (the engine's `count_callers`), so it knows at its first call.

A run's pass starts with canary calls, one at a time, and a joining replica used to cost the others
half their pace while its canary was answered. So while it counts others, each replica writes its
word (storage/callers.py): the most calls it may have in Nylas's window until its next word (its
calls of the last second, or its share if more) and whether it takes no share (runs' canaries are
its only work, or its part of a run is done: below). A pass says so before its canary's claim
shows it to the others. They leave it a few calls a window (its calls, a retry, a look-up) and
share the rest equally among the replicas calling at their share; once its canary passed, it says
so, they take their smaller share, and its share fills as far as their words leave room
(bot/nylas/throttle.py). While a share changes hands like this, the replicas concerned count
twenty times a second, so that no call slot waits for a word for long. A word is trusted while it
is recent (a second): a replica whose writes fail counts as calling at its equal share.

A pass ends when its run's last users are claimed by others (or its process stops), and its calls
of the last second are still in Nylas's window: the replica keeps its word (those calls, taking no
share) until they leave, as one in its canary does; the others take the budget as they go."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.runtime.tasks import cancel_and_wait, wait_event
from storage.callers import Holds, callers_now, publish_holds, withdraw_holds
from storage.db import Sessions, read_only_sessions
from storage.models import utcnow

log = logging.getLogger(__name__)
BUDGET_SECONDS = 0.25
# A replica's claims reach the others' next count within a refresh and its query
NOTICE_SECONDS = BUDGET_SECONDS + 0.05
IDLE_BUDGET_SECONDS = 1.0  # while no worker holds claims and no pass works here
# While a share changes hands (another replica makes its canary calls, or this one's share fills
# or it still holds more than its share), the words go back and forth in moments: every call
# slot the handover waits for a word is lost to the run.
HANDOVER_SECONDS = 0.05
HANDOVER_WATCH_SECONDS = 2.0  # how long a canary is watched that closely
# A replica's word is trusted while this recent (it writes one every refresh): a replica whose
# writes fail counts as one calling at its equal share, and an old word misleads nobody.
WORD_FRESH_SECONDS = 4 * BUDGET_SECONDS
# A pass that ended here has calls in Nylas's window for a second after its last one, which left
# at most a count's pause after the count that last saw the pass: its word lasts that long. (A
# process's other calls, a health sweep's say, are nobody's word, as they always were.)
PASS_CALLS_SECONDS = 1.0 + BUDGET_SECONDS


class BudgetShare:
    def __init__(
        self,
        *,
        sessions: Sessions,
        nylas: NylasClient,
        worker_id: str,
        lease_seconds: float,
        canaries: Callable[[], int] = lambda: 0,
        working: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sessions = sessions
        self._readers = read_only_sessions(sessions)
        self._nylas = nylas
        self._worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)
        self._task: asyncio.Task[None] | None = None
        self._published = False  # this process's holds are in the database
        self._counting = asyncio.Lock()  # the loop and a pass's count, one at a time
        # how many runs' canaries are this process's only work (0: it calls at its share)
        self._canaries = canaries
        # whether a run's pass works here (between its claims too, when it holds none)
        self._working = working
        self._aside_seen: dict[str, float] = {}  # others taking no share, since when
        self._calling_seen = -math.inf  # monotonic: the last count that saw a run worked here
        self._next_count = 0.0  # monotonic: when the loop counts next
        self._rescheduled = asyncio.Event()  # a pass counted: the loop's next count moved

    def start(self) -> None:
        """Refresh until `stop` (a loop of its own, not a scheduler job: it is frequent, cheap
        and never needs to survive a restart)."""
        self._task = asyncio.create_task(self._refreshing(), name="nylas-budget")

    async def stop(self) -> None:
        """Stop counting. A process stopped beside others keeps its word while its last calls
        are still in Nylas's window (a second at most), or they take the whole budget into it."""
        await cancel_and_wait(self._task)
        async with self._counting:
            while self._published and self._nylas.recent_calls() > 0:
                await self._publish(others=True, ending=True)
                await asyncio.sleep(BUDGET_SECONDS)
            if self._published:
                await self._publish(others=False)

    async def _refreshing(self) -> None:
        while True:
            await self.refresh()
            # A pass's own count (before its canary, say) sets when the next one is due: an
            # idle replica's second-long pause must not outlast the start of its work, or the
            # others' canaries and shares go unseen meanwhile.
            while (left := self._next_count - time.monotonic()) > 0:
                self._rescheduled.clear()
                await wait_event(self._rescheduled, at_most=left)

    async def refresh(self) -> float:
        """Take this process's share now, and say what it holds while others call beside it;
        the seconds until the next refresh."""
        async with self._counting:
            pause = await self._count()
        self._next_count = time.monotonic() + pause
        self._rescheduled.set()
        return pause

    async def _count(self) -> float:
        try:
            async with self._readers() as session:
                now = utcnow()
                callers = await callers_now(
                    session=session,
                    claims_since=now - self._lease,
                    words_since=now - timedelta(seconds=WORD_FRESH_SECONDS),
                )
        except SQLAlchemyError as error:  # keep the last share; try again in a second
            log.warning("Nylas budget share not refreshed (%s)", type(error).__name__)
            return IDLE_BUDGET_SECONDS
        workers, words = callers.claiming, callers.words
        words.pop(self._worker_id, None)
        # a replica that said what it holds is calling, between its claims too
        others = (workers | words.keys()) - {self._worker_id}
        aside = {worker: word for worker, word in words.items() if word.aside}
        replicas = len(others) - len(aside) + 1
        if replicas != self._nylas.replicas:
            log_event(
                log,
                "nylas.budget_shared",
                replicas=replicas,
                rate=round(self._nylas.rate_per_second / replicas, 2),
            )
        self._nylas.share_budget(
            replicas,
            others_notice_within=NOTICE_SECONDS,
            # known only when every other replica said what it holds
            others_hold=sum(w.calls for w in words.values()) if len(words) == len(others) else None,
            set_aside=sum(word.calls for word in aside.values()),
        )
        # A process that works no run is nobody's count and says nothing, once its last calls
        # left Nylas's window: a pass that ended (its users answered, or the others claimed the
        # rest) says it holds them until then, or the others take the whole budget into a
        # window still full of them. One taking no share (those calls, or a canary's) keeps
        # its word when it counts nobody for a moment (another may be between its claims), but
        # a lone one never starts writing.
        in_canary_here = self._canaries() > 0
        calling = self._worker_id in workers or self._working() or in_canary_here
        counted_at = time.monotonic()
        if calling:
            self._calling_seen = counted_at
        ending = (
            not calling
            and counted_at - self._calling_seen < PASS_CALLS_SECONDS
            and self._nylas.recent_calls() > 0
        )
        speaking = (bool(others) and (calling or ending)) or (
            (in_canary_here or ending) and self._published
        )
        if speaking or self._published:
            await self._publish(others=speaking, ending=ending)
        if calling and (self._aside_news(aside) or self._nylas.settling):
            return HANDOVER_SECONDS
        return BUDGET_SECONDS if workers or calling or ending else IDLE_BUDGET_SECONDS

    def _aside_news(self, aside: Collection[str]) -> bool:
        """Whether another replica began to take no share (its canary, or its pass's last calls)
        within HANDOVER_WATCH_SECONDS: its canary passes any moment then, or its calls leave
        (a Microsoft canary waiting for consent to propagate can take half an hour, and is not
        watched that closely all along)."""
        now = time.monotonic()
        self._aside_seen = {worker: self._aside_seen.get(worker, now) for worker in aside}
        return any(now - seen < HANDOVER_WATCH_SECONDS for seen in self._aside_seen.values())

    async def _publish(self, *, others: bool, ending: bool = False) -> None:
        """Write what this process holds while others call beside it (`ending`: only its last
        calls, still in Nylas's window, after its pass or at a stop); delete it once alone
        again."""
        try:
            async with self._sessions() as session:
                if others:
                    canaries = self._canaries()
                    holds = (
                        Holds(self._nylas.recent_calls(), aside=True)
                        if ending
                        else Holds(self._nylas.holds(canaries=canaries), aside=canaries > 0)
                    )
                    await publish_holds(session=session, worker_id=self._worker_id, holds=holds)
                else:
                    await withdraw_holds(session=session, worker_id=self._worker_id)
                await session.commit()
        except SQLAlchemyError as error:  # its word goes stale: it counts at its equal share
            log.warning("Nylas budget holds not written (%s)", type(error).__name__)
            return
        self._published = others
