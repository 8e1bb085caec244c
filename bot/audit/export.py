"""Audit events written out as CSV or JSON lines, streamed row by row (constant memory)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TextIO

from bot.runtime.spreadsheet import SafeCsvWriter
from storage.audit import AuditFilter, stream_events
from storage.db import Sessions
from storage.models import AuditEvent, as_utc

ExportFormat = Literal["csv", "jsonl"]
COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "action",
    "outcome",
    "credential_id",
    "email",
    "grant_id",
    "run_id",
    "request_id",
    "details",
    "hash",
)


def event_row(event: AuditEvent) -> dict[str, Any]:
    row = {column: getattr(event, column) for column in COLUMNS}
    row["occurred_at"] = as_utc(event.occurred_at).isoformat()
    return row


async def export_events(
    *,
    sessions: Sessions,
    filters: AuditFilter,
    output_format: ExportFormat,
    out: TextIO,
    advance: Callable[[], None] | None = None,
) -> int:
    """Write every matching event, oldest first; returns how many were written. `advance` is
    called once per event written (the CLI's progress bar)."""
    written = 0
    writer = SafeCsvWriter(out, COLUMNS) if output_format == "csv" else None
    if writer is not None:
        writer.write_header()
    async with sessions() as session:
        async for event in stream_events(session=session, filters=filters):
            row = event_row(event)
            if writer is not None:
                writer.write_dict(row)
            else:
                row["details"] = json.loads(row["details"])
                out.write(json.dumps(row) + "\n")
            written += 1
            if advance is not None:
                advance()
    return written
