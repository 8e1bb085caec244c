"""The run CSV: every user's outcome, streamed from the database, cells made spreadsheet-safe.

It opens with `PREAMBLE_LINES` comment lines (which run, which credential, who asked, why, who
approved), then the header row. Always the same number of lines, each one cell starting with
`# `: Excel, LibreOffice and Google Sheets show them as text in column A above the header (never
a formula); a program skips them by count (`pandas.read_csv(path, skiprows=4)`, or
`csv.DictReader` after four `readline()`s). Not `comment="#"`: pandas drops the rest of any line
at a `#`, data cells included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.nylas.problems import by_code
from bot.runs.kinds import kind_noun
from bot.runtime.spreadsheet import SafeCsvWriter
from storage.approvals import approvals_of
from storage.credentials import every_credential
from storage.models import BulkRun, ItemStatus, RunStatus
from storage.runs import get_run, stream_items

CSV_COLUMNS = ("email", "outcome", "grant_id", "error", "fix", "request_id")
# A revocation across every credential names each grant's credential, second.
ACROSS_COLUMNS = ("email", "credential", *CSV_COLUMNS[1:])
PREAMBLE_LINES = 4


def _one_line(text: str) -> str:
    """A comment stays one line whatever the requester typed (its cell quoting is csv's)."""
    return " ".join(text.split())


def preamble(run: BulkRun, approvers: list[str]) -> list[str]:
    """The request's facts, one comment per line, always `PREAMBLE_LINES` of them."""
    approved = ", ".join(approvers) if approvers else "nobody (not approved)"
    lines = [
        f"bulkauth run {run.id} · {kind_noun(run.kind)} · credential {run.credential_name}",
        f"requested by {run.requested_by_name} ({run.requested_by})",
        f"reason: {run.reason or '(none given)'}",
        f"approved by: {approved}",
    ]
    assert len(lines) == PREAMBLE_LINES
    return ["# " + _one_line(line) for line in lines]


async def _approvers(session: AsyncSession, run: BulkRun) -> list[str]:
    """Every approval in order; a run started without an approval channel names its decider."""
    assert run.id is not None
    approvals = await approvals_of(session=session, run_id=run.id)
    if approvals:
        return [f"{a.approver_name} ({a.approver_id})" for a in approvals]
    if run.approved_by and run.status != RunStatus.REJECTED:
        return [f"{run.approved_by_name or run.approved_by} ({run.approved_by})"]
    return []


async def _credential_labels(session: AsyncSession) -> dict[str, str]:
    """Nylas credential id -> "name (Provider)", deleted credentials included."""
    return {
        c.nylas_credential_id: f"{c.name} ({c.provider.title()})"
        for c in await every_credential(session=session)
    }


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
    run = await get_run(session=session, run_id=run_id)
    across = run is not None and run.credential_id is None
    # cells a spreadsheet would run are neutralised
    writer = SafeCsvWriter(out, ACROSS_COLUMNS if across else CSV_COLUMNS)
    if run is not None:
        for line in preamble(run, await _approvers(session, run)):
            writer.write_row([line])
    writer.write_header()
    names = await _credential_labels(session) if across else {}
    async for item in stream_items(session=session, run_id=run_id):
        problem = by_code(item.problem) if item.problem else None
        writer.write_row(
            [
                item.email,
                *([names.get(item.credential_id, item.credential_id)] if across else []),
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
