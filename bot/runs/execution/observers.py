"""Who hears what happens to runs worked in this process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol


class RunObserver(Protocol):
    """Hears what happens to runs worked here (the reporter, the App Home, the audit anchor)."""

    async def started(self, run_id: int) -> None:
        """A worker here took the run up."""

    def progressed(self, run_id: int) -> None:
        """Outcomes were recorded (often: keep it cheap, schedule any I/O)."""

    async def finished(self, run_id: int, *, cancelled_by: str | None = None) -> None:
        """The run ended: every item done, or cancelled."""

    async def propagating(self, run_id: int, *, seconds: float) -> None:
        """The run's canary waits (at most `seconds`) for Microsoft's consent to propagate."""


class WhenFinished:
    """An observer that only cares that some run ended (refresh a view, anchor the audit log)."""

    def __init__(self, action: Callable[[], Awaitable[None]]) -> None:
        self._action = action

    async def started(self, run_id: int) -> None:
        """Not of interest."""

    def progressed(self, run_id: int) -> None:
        """Not of interest."""

    async def propagating(self, run_id: int, *, seconds: float) -> None:
        """Not of interest."""

    # Which run, and who cancelled it, do not matter to these actions.
    async def finished(self, run_id: int, *, cancelled_by: str | None = None) -> None:  # noqa: ARG002
        await self._action()
