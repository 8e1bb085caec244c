"""Tables for the list commands (rich, times in UTC). Every cell is plain `Text`, so a name or
an email that looks like rich markup is printed as written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from rich.table import Table
from rich.text import Text

from storage.models import (
    FINISHED_ITEM_STATUSES,
    UNSENT_ITEM_STATUSES,
    AuditEvent,
    BulkRun,
    CredentialRecord,
    as_utc,
)


def _when(moment: datetime | None) -> str:
    return f"{as_utc(moment):%Y-%m-%d %H:%M}" if moment is not None else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name in header:
        table.add_column(name)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def event_table(events: Sequence[AuditEvent]) -> Table:
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
) -> Table:
    rows = []
    for run in runs:
        done = counts.get(run.id or 0, Counter())
        rows.append(
            [
                str(run.id),
                run.status,
                names.get(run.credential_id, run.credential_name or "?"),
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
    header += ["revoked", "left", "requested by", "decided by", "requested (UTC)", "ended (UTC)"]
    return _table(header, rows)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "-"


def credential_table(credentials: Sequence[CredentialRecord]) -> Table:
    rows = [
        [
            str(record.id),
            record.name,
            record.provider,
            record.credential_type,
            record.nylas_credential_id,
            record.client_email or record.client_id or "-",
            record.tenant or "-",
            _day(record.secret_expires_on),
            f"{record.registered_by} ({record.registered_by_name})",
            _when(record.registered_at),
        ]
        for record in credentials
    ]
    header = ["id", "name", "provider", "type", "nylas id", "account", "tenant"]
    header += ["secret expires", "registered by", "registered (UTC)"]
    return _table(header, rows)
