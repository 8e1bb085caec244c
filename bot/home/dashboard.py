"""What `/bulkauth status` and the App Home show, read from the database in a few queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.audit import latest_events
from storage.consents import latest_consents, open_consents
from storage.credentials import expiring_secrets, list_credentials
from storage.db import Sessions
from storage.health import snapshots
from storage.models import (
    FINISHED_ITEM_STATUSES,
    AuditEvent,
    BulkRun,
    ConsentRequest,
    CredentialRecord,
    RunStatus,
)
from storage.runs import (
    ACTIVE_RUN_STATUSES,
    grants_by_credential,
    item_counts_of_runs,
    recent_runs,
)

FINISHED_WINDOW = timedelta(days=7)
SECRET_WARNING = timedelta(days=30)
HOME_EVENTS = 10


@dataclass(frozen=True)
class RunLine:
    """A run with its credential's name and its items per status (live, from the database)."""

    run: BulkRun
    credential_name: str
    counts: Counter[str]

    @property
    def run_id(self) -> int:
        assert self.run.id is not None
        return self.run.id

    @property
    def done(self) -> int:
        return sum(self.counts[status] for status in FINISHED_ITEM_STATUSES)


@dataclass(frozen=True)
class OpenConsent:
    request: ConsentRequest
    credential_name: str


@dataclass(frozen=True)
class StatusReport:
    now: datetime
    runs: list[RunLine]
    consents: list[OpenConsent]
    expiring: list[CredentialRecord]

    def runs_in(self, *statuses: RunStatus) -> list[RunLine]:
        return [line for line in self.runs if line.run.status in statuses]


@dataclass(frozen=True)
class CredentialSummary:
    record: CredentialRecord
    consent: ConsentRequest | None
    grants: int
    invalid: int | None = None  # at the last health sweep (None: never swept)
    swept_at: datetime | None = None


@dataclass(frozen=True)
class HomeSnapshot:
    now: datetime
    credentials: list[CredentialSummary]
    active_runs: list[RunLine]
    events: list[AuditEvent]
    credential_names: dict[str, str]  # Nylas credential id → name, for the event lines


def stored_counts(run: BulkRun) -> Counter[str]:
    """An ended run's final counts, stored on the run when it ended."""
    return Counter(
        created=run.created,
        reauthenticated=run.reauthenticated,
        skipped=run.skipped,
        failed=run.failed,
    )


async def _run_lines(
    sessions: Sessions, runs: list[BulkRun], names: dict[int, str]
) -> list[RunLine]:
    """Active runs are counted from their items (live); ended runs use their stored counts."""
    active = [run.id for run in runs if run.id is not None and run.status in ACTIVE_RUN_STATUSES]
    async with sessions() as session:
        counts = await item_counts_of_runs(session=session, run_ids=active)
    return [
        RunLine(
            run=run,
            credential_name=(  # a revocation across every credential has its own name
                run.credential_name
                if run.credential_id is None
                else names.get(run.credential_id, "?")
            ),
            counts=counts[run.id] if run.id in counts else stored_counts(run),
        )
        for run in runs
        if run.id is not None
    ]


async def load_status(sessions: Sessions, *, now: datetime) -> StatusReport:
    async with sessions() as session:
        credentials = await list_credentials(session=session)
        runs = await recent_runs(session=session, ended_since=now - FINISHED_WINDOW)
        consents = await open_consents(session=session, now=now)
        expiring = await expiring_secrets(session=session, until=(now + SECRET_WARNING).date())
    names = {record.id: record.name for record in credentials if record.id is not None}
    return StatusReport(
        now=now,
        runs=await _run_lines(sessions, runs, names),
        consents=[OpenConsent(c, names.get(c.credential_id, "?")) for c in consents],
        expiring=expiring,
    )


async def load_home(sessions: Sessions, *, now: datetime) -> HomeSnapshot:
    async with sessions() as session:
        credentials = await list_credentials(session=session)
        ids = [record.id for record in credentials if record.id is not None]
        consents = await latest_consents(session=session, credential_ids=ids)
        grants = await grants_by_credential(session=session)
        runs = await recent_runs(session=session, ended_since=now)
        events = await latest_events(session=session, limit=HOME_EVENTS)
        swept = await snapshots(session=session)
    names = {record.id: record.name for record in credentials if record.id is not None}
    active = [run for run in runs if run.status in ACTIVE_RUN_STATUSES]
    return HomeSnapshot(
        now=now,
        credentials=[
            CredentialSummary(
                record=record,
                consent=consents.get(record.id) if record.id is not None else None,
                grants=grants.get(record.id, 0) if record.id is not None else 0,
                invalid=swept[record.id].invalid if record.id in swept else None,
                swept_at=swept[record.id].swept_at if record.id in swept else None,
            )
            for record in credentials
        ],
        active_runs=await _run_lines(sessions, active, names),
        events=events,
        credential_names={record.nylas_credential_id: record.name for record in credentials},
    )
