"""Background work started after an ack: kept referenced, drained on shutdown, and a failure
reported to the person it was done for through the one error path (bot/slack/failures.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
CANCEL_AGAIN_SECONDS = 0.5


# Bolt runs each listener after its ack in a task of this coroutine (slack_bolt/listener/
# asyncio_runner.py). Shutdown waits for those too, so no listener is cut off mid-way.
BOLT_LISTENER_COROUTINE = "run_ack_function_asynchronously"


def bolt_listener_tasks() -> set[asyncio.Task[Any]]:
    return {
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__name__", "") == BOLT_LISTENER_COROUTINE
    }


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (if any) and return once it has stopped."""
    if task is None:
        return
    # A task can swallow a cancel (Python 3.11's wait_for does when what it awaited has just
    # finished; a library may turn one into another error): cancel again until it stops.
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait_event(event: asyncio.Event, *, at_most: float) -> None:
    """Wait until `event` is set, for at most `at_most` seconds."""
    # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancel that comes just
    # after the event was set, and a stop() cancelling the waiter then waited forever (a CI run
    # did, in the webhook processor).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(at_most):
            await event.wait()


@dataclass(frozen=True)
class OnBehalfOf:
    """Whom background work is for: told when it fails, in the modal they look at if any."""

    user_id: str
    channel_id: str | None = None
    view_id: str | None = None


FailureReport = Callable[[BaseException, OnBehalfOf], Awaitable[None]]


class BackgroundTasks:
    def __init__(self, *, report_failure: FailureReport | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._report_failure = report_failure

    def spawn(
        self, work: Coroutine[Any, Any, Any], *, name: str, for_: OnBehalfOf | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._run(work, for_), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, work: Coroutine[Any, Any, Any], for_: OnBehalfOf | None) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if for_ is None or self._report_failure is None:
                log.error("background work failed", exc_info=error)
                return
            await self._report_failure(error, for_)

    async def wait_idle(self, *, timeout: float) -> set[asyncio.Task[Any]]:
        """Wait until no work is running (ours and Bolt's listeners, including work they start
        meanwhile) or `timeout` passes; returns what is still running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while running := set(self._tasks) | bolt_listener_tasks():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return running
            await asyncio.wait(running, timeout=remaining)
        return set()

    async def drain(self, *, timeout: float) -> None:
        """Let running work finish for `timeout` seconds, then cancel what is left."""
        left = await self.wait_idle(timeout=timeout)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=1.0)
