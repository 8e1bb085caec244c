"""When a run should stop by itself: its canary (the first users, sent alone) and its circuit
breaker (the same permanent error for many users). Pure: no I/O."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from bot.runs.execution.outcomes import Outcome
from storage.models import ItemStatus

CANARY_USERS = 3
BREAKER_WINDOW = 100
# Problems about one mailbox, not about the credential: a few of them never hold a run.
PER_USER_PROBLEMS = frozenset({"mailbox_not_found", "delegation_denied"})


@dataclass(frozen=True)
class Trip:
    key: str  # a problem's code, or the raw error the table does not know
    count: int  # users it hit (in a row, or within the window)


def canary_verdict(outcomes: list[Outcome]) -> Trip | None:
    """Hold after the canary's users so far? At once for a problem of the credential or app
    (not of one mailbox); for an error the table does not know, when every canary user (all
    `CANARY_USERS`) met the same one."""
    last = outcomes[-1]
    if last.failure_key is None:
        return None
    if last.problem is not None:
        if last.problem.code in PER_USER_PROBLEMS:
            return None
        return Trip(last.problem.code, 1)
    keys = {outcome.failure_key for outcome in outcomes}
    if len(outcomes) >= CANARY_USERS and len(keys) == 1:
        return Trip(last.failure_key, len(outcomes))
    return None


class Breaker:
    """Trips when one failure hits `consecutive` users in a row, or more than half of the last
    `BREAKER_WINDOW` users. Outcomes are fed in the order they were recorded."""

    def __init__(self, consecutive: int) -> None:
        self._consecutive = consecutive
        self._window: deque[str | None] = deque(maxlen=BREAKER_WINDOW)
        self._in_window: Counter[str] = Counter()
        self._streak_key: str | None = None
        self._streak = 0

    def record(self, outcome: Outcome) -> Trip | None:
        if outcome.status is None or outcome.status == ItemStatus.SKIPPED:
            return None  # handed back: no verdict yet
        key = outcome.failure_key
        if len(self._window) == self._window.maxlen and (gone := self._window[0]) is not None:
            self._in_window[gone] -= 1
        self._window.append(key)
        if key is None:
            self._streak_key, self._streak = None, 0
            return None
        self._in_window[key] += 1
        self._streak = self._streak + 1 if key == self._streak_key else 1
        self._streak_key = key
        if self._streak >= self._consecutive:
            return Trip(key, self._streak)
        if self._in_window[key] > BREAKER_WINDOW // 2:
            return Trip(key, self._in_window[key])
        return None
