"""The JSON the list commands print with `--json`: each record's stored fields, times as ISO
8601 in UTC, so `json.loads` gives back what the database holds."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import SQLModel

from bot.audit.export import event_row
from storage.models import (
    FINISHED_ITEM_STATUSES,
    UNSENT_ITEM_STATUSES,
    AuditEvent,
    BulkRun,
    CredentialRecord,
    as_utc,
)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _fields(record: SQLModel) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in record.model_dump().items()}


def event_record(event: AuditEvent) -> dict[str, Any]:
    """The same object `audit export --format jsonl` writes for the event."""
    row = event_row(event)
    row["details"] = json.loads(row["details"])
    return row


def run_record(
    run: BulkRun, counts: Mapping[int, Counter[str]], names: Mapping[int | None, str]
) -> dict[str, Any]:
    done = counts.get(run.id or 0, Counter())
    items = {str(status): done[status] for status in FINISHED_ITEM_STATUSES}
    items["left"] = sum(done[status] for status in UNSENT_ITEM_STATUSES)
    return {
        **_fields(run),
        "credential_name": names.get(run.credential_id, run.credential_name or None),
        "items": items,
    }


def credential_record(record: CredentialRecord) -> dict[str, Any]:
    return _fields(record)
