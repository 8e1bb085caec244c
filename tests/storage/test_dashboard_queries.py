"""The queries behind `/bulkauth status`, the App Home and `bulkauth runs list`, on SQLite and
PostgreSQL (the end-to-end tests run on SQLite)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.home.dashboard import load_home, load_status
from storage.audit import Actor, AuditAction, AuditFilter, Subject, count_events, record_event
from storage.db import Sessions
from storage.models import (
    ConsentRequest,
    ItemStatus,
    RunStatus,
    utcnow,
)
from storage.runs import add_items, list_runs
from tests.records import credential_record, run_record


async def test_status_and_home_read_runs_consents_secrets_and_grants(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions() as session:
        acme = credential_record("acme.com")
        contoso = credential_record(
            "contoso.com", "microsoft", secret_expires_on=date.today() + timedelta(days=5)
        )
        far = credential_record(
            "far.example", "microsoft", secret_expires_on=date.today() + timedelta(days=31)
        )
        session.add_all([acme, contoso, far])
        await session.flush()
        first = run_record(
            acme.id, RunStatus.FINISHED, finished_at=now - timedelta(days=1), created=2
        )
        second = run_record(acme.id, RunStatus.RUNNING)
        old = run_record(acme.id, RunStatus.CANCELLED, finished_at=now - timedelta(days=8))
        rejected = run_record(acme.id, RunStatus.REJECTED, decided_at=now - timedelta(days=2))
        session.add_all([first, second, old, rejected])
        await session.flush()
        # ann is granted by both runs: counted once for the credential
        await add_items(
            session=session,
            run_id=first.id or 0,
            emails=["ann@acme.com", "bob@acme.com"],
            status=ItemStatus.CREATED,
        )
        await add_items(
            session=session,
            run_id=second.id or 0,
            emails=["ann@acme.com"],
            status=ItemStatus.REAUTHENTICATED,
        )
        await add_items(session=session, run_id=second.id or 0, emails=["cy@acme.com"])
        session.add(
            ConsentRequest(
                credential_id=contoso.id or 0,
                state_hash="pending",
                requested_by="U1",
                requested_by_name="Ada",
                channel_id="C1",
                expires_at=now + timedelta(days=1),
            )
        )
        await record_event(
            session=session,
            actor=Actor("U1", "Ada"),
            action=AuditAction.RUN_APPROVED,
            subject=Subject(run_id=second.id),
        )
        await session.commit()

    report = await load_status(sessions, now=now)
    assert [line.run_id for line in report.runs] == [rejected.id, second.id, first.id]
    running = report.runs_in(RunStatus.RUNNING)[0]
    assert (running.counts["reauthenticated"], running.counts["pending"], running.done) == (1, 1, 1)
    assert report.runs_in(RunStatus.FINISHED)[0].counts["created"] == 2  # stored at its end
    assert [c.credential_name for c in report.consents] == ["contoso.com"]
    assert [record.name for record in report.expiring] == ["contoso.com"]

    home = await load_home(sessions, now=now)
    grants = {summary.record.name: summary.grants for summary in home.credentials}
    assert grants == {"acme.com": 2, "contoso.com": 0, "far.example": 0}
    assert [line.run_id for line in home.active_runs] == [second.id]
    assert home.credential_names["cred-google-acme.com"] == "acme.com"

    async with sessions() as session:
        # the run's approval names no credential, yet belongs to the credential's history
        about_acme = await count_events(
            session=session, filters=AuditFilter(credential_id="cred-google-acme.com")
        )
        running_only = await list_runs(session=session, statuses=[RunStatus.RUNNING])
    assert about_acme == 1 and [run.id for run in running_only] == [second.id]
