"""Plain-text tables for `bulkauth audit list` and `bulkauth runs list` (times in UTC)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from storage.models import (
    FINISHED_ITEM_STATUSES,
    UNSENT_ITEM_STATUSES,
    AuditEvent,
    BulkRun,
    as_utc,
)


def _when(moment: datetime | None) -> str:
    return f"{as_utc(moment):%Y-%m-%d %H:%M}" if moment is not None else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def event_table(events: Sequence[AuditEvent]) -> list[str]:
    rows = []
    for event in events:
        subject = [
            f"{name}={value}"
            for name, value in (
                ("email", event.email),
                ("run", event.run_id),
                ("credential", event.credential_id),
                ("grant", event.grant_id),
                ("request", event.request_id),
            )
            if value is not None
        ]
        rows.append(
            [
                str(event.seq),
                _when(event.occurred_at),
                f"{event.actor_id} ({event.actor_name})",
                event.action,
                event.outcome,
                " ".join(subject),
            ]
        )
    return _table(["seq", "time (UTC)", "actor", "action", "outcome", "subject"], rows)


def run_table(
    runs: Sequence[BulkRun], counts: Mapping[int, Counter[str]], names: Mapping[int | None, str]
) -> list[str]:
    rows = []
    for run in runs:
        done = counts.get(run.id or 0, Counter())
        rows.append(
            [
                str(run.id),
                run.status,
                names.get(run.credential_id, "?"),
                str(run.total),
                *(str(done[status]) for status in FINISHED_ITEM_STATUSES),
                str(sum(done[status] for status in UNSENT_ITEM_STATUSES)),
                f"{run.requested_by} ({run.requested_by_name})",
                f"{run.approved_by} ({run.approved_by_name})" if run.approved_by else "-",
                _when(run.created_at),
                _when(run.finished_at),
            ]
        )
    header = ["run", "status", "credential", "users", "created", "reauth", "skipped", "failed"]
    header += ["left", "requested by", "decided by", "requested (UTC)", "ended (UTC)"]
    return _table(header, rows)
