"""A test that hangs fails after pytest-timeout's limit (pyproject) instead of stalling CI, and
its report shows where every asyncio task of the session's loop was waiting: the thread dump
alone shows only the event loop's select()."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Generator

import pytest

TIMEOUT_MARK = "Timeout"  # pytest-timeout's failure message starts so


@pytest.fixture(scope="session", autouse=True)
async def session_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def task_stacks(loop: asyncio.AbstractEventLoop) -> str:
    out = io.StringIO()
    for task in sorted(asyncio.all_tasks(loop), key=lambda task: task.get_name()):
        task.print_stack(limit=12, file=out)
    return out.getvalue()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    loop = getattr(item, "funcargs", {}).get("session_loop")
    if call.excinfo is not None and str(call.excinfo.value).startswith(TIMEOUT_MARK) and loop:
        report.sections.append(("asyncio tasks when the test timed out", task_stacks(loop)))
    return report
