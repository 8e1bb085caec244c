"""The run CSV: every user's outcome, streamed from the database, cells made spreadsheet-safe."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.nylas.problems import by_code
from bot.runtime.spreadsheet import SafeCsvWriter
from storage.models import ItemStatus
from storage.runs import stream_items

CSV_COLUMNS = ("email", "outcome", "grant_id", "error", "fix", "request_id")


async def write_run_csv(
    session: AsyncSession,
    run_id: int,
    out: TextIO,
    advance: Callable[[], None] | None = None,
) -> Counter[str]:
    """Every user's outcome as CSV (streamed from the database); returns the failures by
    reason. The run's report, its "Send CSV again" and `bulkauth runs csv` all write this;
    `advance` is called once per user written (the CLI's progress bar)."""
    failures: Counter[str] = Counter()
    writer = SafeCsvWriter(out, CSV_COLUMNS)  # cells a spreadsheet would run are neutralised
    writer.write_header()
    async for item in stream_items(session=session, run_id=run_id):
        problem = by_code(item.problem) if item.problem else None
        writer.write_row(
            [
                item.email,
                item.status,
                item.grant_id or "",
                item.last_error or "",
                problem.fix if problem else "",
                item.request_id or "",
            ]
        )
        if item.status == ItemStatus.FAILED:  # by plain reason where the table knows the error
            reason = f"{problem.reason} Fix: {problem.fix}" if problem else None
            failures[reason or item.last_error or "unknown"] += 1
        if advance is not None:
            advance()
    return failures
