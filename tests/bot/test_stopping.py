"""Background loops stop when told to, whatever moment the stop comes at. On Python 3.11,
`asyncio.wait_for` swallows a cancel that arrives just after what it awaited finished; the
webhook processor waited for its wake-up that way, and a bot stopped at that moment never
finished stopping (a CI run stalled for 90 minutes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.alerts.publisher import AlertPublisher
from bot.runtime.tasks import cancel_and_wait
from bot.webhooks.processor import WebhookProcessor
from storage.db import create_engine, session_factory
from storage.migrate import upgrade


def awaiting(task: asyncio.Task[None]) -> list[str]:
    """The coroutines `task` is suspended in, outermost first."""
    names, coroutine = [], task.get_coro()
    while coroutine is not None and hasattr(coroutine, "cr_code"):
        names.append(coroutine.cr_code.co_name)
        coroutine = coroutine.cr_await
    return names


async def parked(task: asyncio.Task[None]) -> None:
    """Until `task` waits for its wake-up event (nothing else tells when a loop is idle)."""
    async with asyncio.timeout(5):
        while "wait" not in awaiting(task):  # noqa: ASYNC110 (no event says so)
            await asyncio.sleep(0)


async def test_a_task_that_swallows_a_cancel_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def swallows_the_first_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(swallows_the_first_cancel())
    await asyncio.sleep(0)  # started
    stopping = asyncio.create_task(cancel_and_wait(task))
    await asyncio.wait({stopping}, timeout=5)  # not a timeout around it: that cancels `task` too
    assert stopping.done() and swallowed.is_set() and task.cancelled()


async def test_the_webhook_loops_stop_when_woken_just_before_the_stop(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    stored, alerts_due = asyncio.Event(), asyncio.Event()
    processor = WebhookProcessor(
        sessions=sessions,
        window_seconds=60,
        stored=stored,
        published=alerts_due,
        poll_seconds=30,
    )
    publisher = AlertPublisher(sessions=sessions, slack=None, channel="C0ALERTS", window_seconds=60)  # type: ignore[arg-type]
    try:
        for loop, wake in ((processor, stored), (publisher, publisher.wake)):
            loop.start()
            [task] = [t for t in asyncio.all_tasks() if t.get_name() == loop_name(loop)]
            await parked(task)
            wake.set()  # a notification committed (or an alert counted) ...
            await asyncio.sleep(0)  # ... one turn of the event loop before the stop
            async with asyncio.timeout(5):
                await loop.stop()
            assert task.done()
    finally:
        await engine.dispose()


def loop_name(loop: WebhookProcessor | AlertPublisher) -> str:
    return "webhook-processor" if isinstance(loop, WebhookProcessor) else "alert-publisher"
