"""What a run pass needs from whoever runs it (the engine), and the limits it works within:
the worker depends on this small protocol, never on the engine itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.runs.execution.canary import CanaryControl


class RunControl(CanaryControl, Protocol):
    """What a pass asks of whoever runs it (the engine): whether to go on, that it moved, and
    to hold the run or say it waits for consent (`CanaryControl`)."""

    def should_stop(self, run_id: int) -> bool:
        """Stop sending at once (the run was cancelled here, or the process is stopping)."""

    def progressed(self, run_id: int) -> None:
        """Outcomes of the run were recorded."""

    async def count_callers(self, run_id: int, *, canary: bool) -> None:
        """Count the replicas calling Nylas for runs now and take this process's share of the
        budget. `canary`: this run's pass is about to make its canary calls (while no pass here
        calls at its share, the others keep the budget but for those), else it passed them."""


@dataclass(frozen=True)
class PassLimits:
    concurrency: int  # senders, as many as the Nylas client's concurrency
    item_attempts: int
    lease_seconds: float
    record_retry_seconds: float
    breaker_consecutive: int = 20
    propagation_first_retry: float = 60.0
    propagation_max_wait: float = 1800.0
