"""The pace of Nylas calls: one budget per Nylas application, shared by every call of this process
(first attempts and retries alike, in the order they asked) and split between the replicas
working runs at the same time.

Nylas counts requests per application in a one-second window and answers 429 with Retry-After
beyond its limit. So calls are paced (GCRA: one call every 1/rate seconds; a moment left idle, such
as a run's canary call, may be made up within the window) and, on top, the sends of the last
second are remembered, each from when it left for Nylas (the HTTP pool tells, `Departure.left`):
a call never goes while the previous `rate` calls all fall in one window (plus a small margin for
the way to Nylas). A call leaves a moment after it is due (its wait wakes, its request is written),
so each is due that much early, by a low estimate learnt as calls go (`Lateness`, 2 ms at most):
most calls then leave as the window makes room, and the quicker tenth up to a millisecond before
(a refusal among them widens the margin, as below). A 429 makes only the caller that got it wait its
Retry-After (the client's retry does that) and the refused call leaves the window (Nylas counts
only the calls it accepts). A lone 429 says the way to Nylas varies: the margin grows a little.
429s within a second of each other say something else spends the application's budget too: the
pace also eases off by 1 %, once a window (the refusals of one burst are one event; back within a
second), instead of cutting every caller for long.

A replica that starts calling while others are counted (it joins a run, or starts one beside
theirs; a run's pass counts the callers before its first call) finds the window full: the others
spent the whole budget until they noticed it, and Nylas still counts their last second. Its share
starts empty and fills over one window, from when the others have noticed it
(`share(..., others_notice_within=)`); they stop calling until their own calls fit their smaller
share, which leaves the newcomer room as those calls leave. When the others have said what they
hold (`others_hold`), it takes the room they leave, and no more: their calls may have gone late
in the window. Its first call (a canary) goes once the share holds one; while a replica takes no
share (its runs are all in their canary, or its part of a run is done and its last calls are
still in the window), the others keep the budget but for what it holds (`set_aside`); it begins
filling its share once a canary passed (`begin_share`). A turn waiting for room looks
again whenever the share changes.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from bot.runtime.tasks import wait_event

WINDOW_SECONDS = 1.0  # Nylas's rate window
# The window we keep grows a little longer than Nylas's once a 429 shows that the way there
# varies: a step more after each lone 429 (up to MARGIN_MOST; a burst eases the pace instead),
# and a REFUSED_SHARE of a step less for each call sent meanwhile, so it settles where about that
# share of calls is refused. Both cost budget: a millisecond of margin 0.1 % of it, a refusal its
# call's place in the window until the 429 comes back (the fake answers after its latency: 0.3 s,
# 6 ms of the budget). The way to Nylas now and then takes 5-10 ms longer, which no margin worth
# keeping covers; a small step keeps the margin from overshooting after such a moment. (In the
# 50/s benchmark, 0.3 % brought 17-24 refusals a run, close to the 0.5 % the issue allows, for no
# better pace.) Below Nylas's limit no 429 comes, and the configured rate is kept (but for the
# quickest calls, a millisecond early at most: `Lateness`).
MARGIN_STEP = 0.001
MARGIN_MOST = 0.05
REFUSED_SHARE = 0.002
BURST_SECONDS = WINDOW_SECONDS  # idle time may be made up within the window ...
CATCH_UP_GAP = 0.5  # ... but calls stay half the application's interval apart on average,
# give or take a quarter: the calls made up recur a window later at that spacing, and without
# the slack one call that left late would hold back every call after it in the stretch.
CATCH_UP_SLACK = 0.25
SLOWDOWN_STEP = 0.01  # a 429 soon after another makes every call cost 1 % more of the budget ...
MAX_SLOWDOWN = 1.0  # ... up to half the configured rate (other traffic on the application)
RECOVERY_PER_SECOND = 0.02  # and the cost falls back by 2 points per quiet second
# The event loop's timers fire in whole milliseconds, on average most of one late, and a call
# that waits for the call one window back to leave carries that lateness into every second
# after. The last stretch of a wait is slept in a worker thread, which wakes the loop on time.
PRECISE_SECONDS = 0.002
# A long wait wakes later still (here, after a quiet second: 3.4-5.7 ms; a tenth of one: up to
# 1.9 ms), past the stretch slept precisely: it wakes this share of the wait early, and waits
# again for the rest.
EARLY_WAKE_SHARE = 0.03
# A run's last calls keep this much more margin: one Nylas refuses there holds the run's end for
# its whole-second Retry-After (a second of the run, against 20-40 ms over the last second and a
# half of calls), and on a busy machine refusals came up to 4.6 ms before the window had room (in
# the 50/s benchmark; 3 ms of margin left one such refusal among the last calls of 3 runs in 9).
FINISHING_MARGIN = 0.02
# A call leaves for Nylas a moment after it is due (the wait wakes, the request is written to the
# socket), and the call a window later waits for it to leave: without a correction that moment
# carries into every window after (1-2 ms a second here, 0.1-0.2 % of the rate). So calls are due
# early by a low estimate of it (a tenth of calls take less), learnt as they go, apart for turns
# taken ahead of their call (a run's senders: the user and its request are made after the turn)
# and the rest (retries, look-ups: the request is made before), whose moments differ.
LATENESS_QUANTILE = 0.1
LATENESS_STEP = 0.00002  # seconds; the estimate rises a ninth of that per later call
LATENESS_MOST = 0.002  # a busy spell cannot make the calls after it early by more
# What a replica whose only work is a run's canary may send before its next word to the others:
# the canary call, an immediate retry, a look-up of a user sent before.
CANARY_CALLS = 3


def never() -> bool:
    """A caller's work that never stops."""
    return False


class Departure:
    """One call's place in the window: when its turn came, then when it left for Nylas. `due`:
    when the pace would have let it go (its turn comes a moment later, its wait's wake-up)."""

    __slots__ = ("_lateness", "at", "due")

    def __init__(
        self, at: float, *, due: float | None = None, lateness: Lateness | None = None
    ) -> None:
        self.at = at
        self.due = at if due is None else due
        self._lateness = lateness

    def left(self) -> None:
        self.at = time.monotonic()

    def answered(self) -> None:
        """Its call was answered: how late it left (the last write of its request) is learnt,
        once per call."""
        if self._lateness is not None:
            self._lateness.learn(self.at - self.due)
            self._lateness = None


class Lateness:
    """How long after it is due a call leaves for Nylas (its wait's wake-up, then its request
    written to the socket): a low estimate, about the LATENESS_QUANTILE of the calls so far,
    learnt one answered call at a time (a streaming quantile: a step down for a call below it, a
    ninth of one up for a call above; it moves only a step a call, so a burst of slow calls
    barely moves it)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def learn(self, seconds: float) -> None:
        if seconds < self.seconds:
            self.seconds = max(0.0, self.seconds - LATENESS_STEP * (1.0 - LATENESS_QUANTILE))
        elif seconds > self.seconds:
            self.seconds = min(LATENESS_MOST, self.seconds + LATENESS_STEP * LATENESS_QUANTILE)


@functools.cache
def _pacing_thread() -> ThreadPoolExecutor:
    """The thread that sleeps the last stretch of pacing waits, its own so that no other work
    in the loop's default executor (planning a large run, say) can hold a call back."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nylas-pacing")


async def _sleep_precisely_until(when: float) -> None:
    """Sleep the last stretch of a wait (PRECISE_SECONDS at most) until `when` (monotonic), within
    a fraction of a millisecond."""
    left = when - time.monotonic()
    if left > 0:
        await asyncio.get_running_loop().run_in_executor(_pacing_thread(), time.sleep, left)


def size_of(rate: float) -> float:
    """The calls one window holds at `rate`."""
    return max(1.0, rate * WINDOW_SECONDS)


class Throttle:
    def __init__(
        self, *, rate_per_second: float, concurrency: int, lateness: Lateness | None = None
    ) -> None:
        self.rate_per_second = rate_per_second
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._turn = asyncio.Lock()  # callers take their turn in the order they asked
        self._replicas = 1
        self._due = 0.0  # GCRA's theoretical time of the next call
        self._catch_up_due = 0.0  # the catch-up pace's theoretical time of the next call
        # how late calls leave once due: calls paced when they are made, and turns taken ahead
        self._lateness = Lateness() if lateness is None else lateness
        self._reserved_lateness = Lateness()
        self._sent: deque[Departure] = deque(maxlen=max(1, int(rate_per_second * WINDOW_SECONDS)))
        self._slowdown = 0.0
        self._slowdown_at = time.monotonic()  # the last 429
        self._throttled_before = False
        self._eased_at = -math.inf  # the last 429 that eased the pace off
        self._margin = 0.0
        self._sent_since_refused = 0  # calls that went since the last 429
        self._notice_seconds = 0.0  # how soon the other replicas see this one calling
        self._filling_from: float | None = None  # its share fills over one window from then
        self._others_hold: int | None = None  # the most the others may have in the window
        self._set_aside = 0  # calls a window held by others that take no share
        # the share changed: a turn waiting for room looks again
        self._changed = asyncio.Event()

    def _current_margin(self) -> float:
        # by the calls this process sent since the last 429: a replica sending half the calls
        # sees half the 429s, and settles where the others do; a quiet spell, which tells
        # nothing of the way to Nylas, keeps what was learnt (a few ms: the next run's first
        # thousand calls or so narrow it again if the way got quicker)
        return max(0.0, self._margin - self._sent_since_refused * REFUSED_SHARE * MARGIN_STEP)

    def _current_slowdown(self) -> float:
        quiet = time.monotonic() - self._slowdown_at
        return max(0.0, self._slowdown - quiet * RECOVERY_PER_SECOND)

    @property
    def replicas(self) -> int:
        return self._replicas

    @property
    def effective_rate(self) -> float:
        """This process's pace now: its share of the budget, eased off after 429s."""
        return self._share_rate() / (1.0 + self._current_slowdown())

    def _share_rate(self) -> float:
        """An equal share of what the replicas taking no share leave (`share`)."""
        left = max(size_of(self.rate_per_second) - self._set_aside, 1.0)
        return left / WINDOW_SECONDS / self._replicas

    def share(
        self,
        replicas: int,
        *,
        others_notice_within: float = 0.0,
        others_hold: int | None = None,
        set_aside: int = 0,
    ) -> None:
        """`replicas` processes (this one included) are calling Nylas for runs right now: each
        takes an equal share of the application's budget, but for `set_aside` calls a window
        that others taking no share hold (in their canary, or their part done). The others see
        this process start calling within `others_notice_within` seconds; `others_hold`, when
        known, is the most calls all the others may have in Nylas's window together: while this
        process's share fills, it takes the room they leave, and no more."""
        before = (self._replicas, self._others_hold, self._set_aside)
        self._replicas = max(1, replicas)
        self._notice_seconds = others_notice_within
        self._others_hold = others_hold
        self._set_aside = set_aside
        if (self._replicas, others_hold, set_aside) != before:
            self._changed.set()

    def holds(self, *, canaries: int = 0) -> int:
        """The most calls this process may have in Nylas's window until its share changes: its
        calls of the last window, or its share if more (its pace eased off or not). While its
        only work is `canaries` runs' canaries (one call at a time each), its calls of the last
        window and a few more for each: the call, a retry, a look-up."""
        recent = self.recent_calls()
        if canaries:
            return recent + CANARY_CALLS * canaries
        return max(recent, math.ceil(size_of(self._share_rate())))

    def recent_calls(self) -> int:
        """This process's calls in Nylas's window: those that left within the last second, and
        the margin the way there needs (as the pace counts them)."""
        since = time.monotonic() - WINDOW_SECONDS - self._current_margin()
        return sum(1 for sent in self._sent if sent.at > since)

    @property
    def settling(self) -> bool:
        """Its share is changing hands: it fills, or this process still has more calls in the
        window than its share (they leave the others room as they go)."""
        filling = self._filling_from
        if filling is not None and time.monotonic() < filling + WINDOW_SECONDS:
            return True
        return self.recent_calls() > math.ceil(size_of(self._share_rate()))

    def begin_share(self) -> None:
        """This process goes on from a run's canary to its whole share: with others calling, it
        fills it from when they have noticed (they kept the budget meanwhile)."""
        if self._replicas > 1:
            self._filling_from = time.monotonic() + self._notice_seconds

    def _window_size(self, now: float, rate: float) -> float:
        """How many calls may be in the window now: while the share fills, the room the others
        leave when they all said what they hold (their calls may have gone late in the window,
        so their word wins), else what one window has filled since they noticed."""
        full = size_of(rate)
        if self._filling_from is None:
            return full
        filled = (now - self._filling_from) / WINDOW_SECONDS
        if filled >= 1.0:
            self._filling_from = None
            return full
        if self._others_hold is not None:
            return min(full, max(0.0, size_of(self.rate_per_second) - self._others_hold))
        return full * max(0.0, filled)

    def throttled(self, refused: Departure | None = None) -> None:
        """Nylas refused the call `refused` (429): it leaves the window (the caller that got it
        waits the Retry-After before its retry). A lone 429 widens the margin a step; one soon
        after another eases the pace off a step, once a window: the refusals of one burst
        (calls already on their way when the first came back) are one event, not many."""
        if refused is not None:
            self.unused(refused)
        # what recovered since the last 429 stays recovered: the count of calls sent since, and
        # the quiet clock, restart now
        self._margin, self._slowdown = self._current_margin(), self._current_slowdown()
        self._sent_since_refused = 0
        now = time.monotonic()
        if not (self._throttled_before and now - self._slowdown_at < WINDOW_SECONDS):
            self._margin = min(MARGIN_MOST, self._margin + MARGIN_STEP)
        elif now - self._eased_at >= WINDOW_SECONDS:
            self._slowdown = min(MAX_SLOWDOWN, self._slowdown + SLOWDOWN_STEP)
            self._eased_at = now
        self._slowdown_at, self._throttled_before = now, True

    def _next_turn(self, now: float, finishing: bool, early: float) -> tuple[float, float]:
        """When the next call may go (or when to look again), and the pace it goes at; `early`:
        how much sooner than the window's room it is due (how late it will leave)."""
        rate = self.effective_rate
        size = self._window_size(now, rate)
        in_window = int(size + 1e-9)
        catching_up = self._catch_up_due - CATCH_UP_SLACK / self.rate_per_second
        due = max(now, self._due - BURST_SECONDS, catching_up)
        grows = math.inf  # when a filling share holds one call more
        if self._filling_from is not None and self._others_hold is None:
            grows = self._filling_from + (in_window + 1) / size_of(rate) * WINDOW_SECONDS
        elif self._filling_from is not None:  # as their words say (`share`), or whole
            grows = self._filling_from + WINDOW_SECONDS
        if in_window == 0:
            return max(due, grows), rate
        if len(self._sent) >= in_window:  # the call `in_window` back leaves the window
            # (calls leave in the order of their turns but for a fraction of a millisecond, and
            # this runs for every call: at 10,000/s, sorting the window by departure cost more
            # than the calls)
            margin = self._current_margin() + (FINISHING_MARGIN if finishing else 0.0)
            leaving = self._sent[-in_window].at + WINDOW_SECONDS + margin - early
            due = max(due, min(leaving, grows))
        return due, rate

    async def _pace(
        self, stopped: Callable[[], bool], finishing: Callable[[], bool], lateness: Lateness
    ) -> Departure | None:
        async with self._turn:
            now = time.monotonic()
            calling = self._sent and self._sent[-1].at > now - WINDOW_SECONDS
            if self._replicas > 1 and not calling:  # the others still take it all
                self._filling_from = now + self._notice_seconds
            waited_for = math.inf  # when the wait was for, once it waited
            while True:  # again after each wait: calls leaving meanwhile move the window
                if stopped():  # withdrawn: the turn passes on at once, unspent
                    return None
                now = time.monotonic()
                # (finishing() is asked on each pass: the run may reach its end meanwhile)
                due, rate = self._next_turn(now, finishing(), lateness.seconds)
                if due <= now:
                    break
                waited_for = due
                if due - now > PRECISE_SECONDS:  # a new share may bring the turn forward
                    early = max(PRECISE_SECONDS, (due - now) * EARLY_WAKE_SHARE)
                    await self._until_changed(due - early)
                    continue
                await _sleep_precisely_until(due)
            self._due = max(self._due, due) + 1.0 / rate
            went = time.monotonic()
            interval = 1.0 / self.rate_per_second
            self._catch_up_due = max(self._catch_up_due, went) + CATCH_UP_GAP * interval
            due = min(due, waited_for)  # a turn that waited was due when its wait was to end
            departure = Departure(went, due=due, lateness=lateness)
            self._sent.append(departure)
            self._sent_since_refused += 1
            return departure

    async def _until_changed(self, when: float) -> None:
        """Wait until `when` (monotonic), or until the share changes before then."""
        self._changed.clear()
        await wait_event(self._changed, at_most=when - time.monotonic())

    async def reserve(
        self, stopped: Callable[[], bool] = never, *, finishing: Callable[[], bool] = never
    ) -> Departure | None:
        """A turn taken ahead of the call that spends it (`slot(reserved=)`), holding one of the
        calls in flight meanwhile, or handed back unspent (`unreserve`); None: `stopped()` said
        so while it waited. While `finishing()` says so, it is one of a run's last calls."""
        await self._slots.acquire()
        departure: Departure | None = None
        try:
            departure = await self._pace(stopped, finishing, self._reserved_lateness)
        finally:
            if departure is None:  # withdrawn, or cancelled while it waited
                self._slots.release()
        return departure

    def unreserve(self, departure: Departure) -> None:
        """A reserved turn no call spent: it leaves the window (the next call may take its place
        there) and its call in flight is free."""
        self.unused(departure)
        self._sent_since_refused = max(0, self._sent_since_refused - 1)  # it was never sent
        self._slots.release()

    def unused(self, departure: Departure) -> None:
        """A call Nylas refused (it does not count those) leaves the window. (It wakes no turn
        waiting for room: Nylas's window is full then, and the next call would be refused too.)"""
        if departure in self._sent:
            self._sent.remove(departure)

    @asynccontextmanager
    async def slot(
        self,
        stopped: Callable[[], bool] = never,
        *,
        finishing: Callable[[], bool] = never,
        reserved: Departure | None = None,
    ) -> AsyncIterator[Departure | None]:
        """Hold one of the calls in flight, once it is this call's turn (a `reserved` turn holds
        its own since then); yields its place in the window, to be told when the call leaves
        (None: `stopped()` said so while it waited). While `finishing()` says so, it is one of a
        run's last calls: FINISHING_MARGIN more."""
        if reserved is not None:
            try:
                yield reserved
            finally:
                self._slots.release()
            return
        async with self._slots:
            yield await self._pace(stopped, finishing, self._lateness)
