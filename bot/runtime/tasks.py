"""Background work started after an ack: kept referenced, errors logged, drained on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


# Bolt runs each listener after its ack in a task of this coroutine (slack_bolt/listener/
# asyncio_runner.py). Shutdown waits for those too, so no listener is cut off mid-way.
BOLT_LISTENER_COROUTINE = "run_ack_function_asynchronously"


def bolt_listener_tasks() -> set[asyncio.Task[Any]]:
    return {
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__name__", "") == BOLT_LISTENER_COROUTINE
    }


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

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
