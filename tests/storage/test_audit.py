"""The hash-chained audit log on SQLite and PostgreSQL, through storage and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.export import export_events
from storage.audit import (
    Actor,
    AuditAction,
    AuditFilter,
    Subject,
    latest_events,
    record_event,
    verify_chain,
)
from storage.audit_key import AuditKey
from storage.db import Sessions, create_engine, is_reachable, session_factory
from tests.cli import run_cli
from tests.conftest import AUDIT_KEY

ADA = Actor("U0ADA", "Ada")
BOB = Actor("U0BOB", "Bob")


async def add_events(
    sessions: Sessions,
    count: int,
    *,
    actor: Actor = ADA,
    email: str = "user@acme.com",
    run_id: int | None = None,
) -> None:
    for index in range(count):
        async with sessions() as session:
            await record_event(
                session=session,
                actor=actor,
                action=AuditAction.GRANT_CREATED,
                subject=Subject(
                    email=email, grant_id=f"g{index}", run_id=run_id, credential_id="cred-1"
                ),
                request_id=f"req-{index}",
                details={"index": index},
            )
            await session.commit()


async def test_events_chain_and_verify(sessions: Sessions) -> None:
    await add_events(sessions, 5)
    async with sessions() as session:
        checked, problem = await verify_chain(session=session)
        latest = await latest_events(session=session, limit=2)
    assert (checked, problem) == (5, None)
    assert [event.seq for event in latest] == [5, 4]
    assert latest[0].prev_hash == latest[1].hash


async def test_empty_log_verifies(sessions: Sessions) -> None:
    async with sessions() as session:
        assert await verify_chain(session=session) == (0, None)


async def test_secrets_are_refused_in_details(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="secrets"):
            await record_event(
                session=session,
                actor=ADA,
                action=AuditAction.INPUT_REJECTED,
                details={"client_secret": "x"},
            )


async def test_verify_cli_names_an_altered_row(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 6)
    code, out, _ = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert (code, out.strip()) == (0, "audit chain intact: 6 events")
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_event SET email = 'eve@acme.com' WHERE seq = 4")
        )
    code, out, _ = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert code == 1
    assert "audit event #4: altered" in out and "3 events before it are intact" in out


async def test_verify_names_a_removed_row_and_a_truncated_end(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await add_events(sessions, 5)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    async with sessions() as session:
        _, problem = await verify_chain(session=session)
    assert problem is not None and problem.seq == 4 and "removed or reordered" in problem.kind
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_event WHERE seq >= 3"))
    async with sessions() as session:
        _, problem = await verify_chain(session=session)
    assert problem is not None and problem.seq == 3 and "end" in problem.kind


async def test_verify_names_reordered_rows(engine: AsyncEngine, sessions: Sessions) -> None:
    await add_events(sessions, 4)
    async with engine.begin() as connection:  # swap events 2 and 3 wholesale, hashes included
        await connection.execute(text("UPDATE audit_event SET seq = 100 WHERE seq = 2"))
        await connection.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 3"))
        await connection.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 100"))
    async with sessions() as session:
        _, problem = await verify_chain(session=session)
    assert problem is not None and problem.seq == 2


async def test_two_writers_at_once_keep_one_linear_chain(
    database_url: str, engine: AsyncEngine
) -> None:
    """Two engines (separate connection pools, as two processes would have) append at once."""
    other = create_engine(database_url)
    try:
        key = AuditKey(AUDIT_KEY)
        writers = [session_factory(engine, audit_key=key), session_factory(other, audit_key=key)]
        await asyncio.gather(
            *(add_events(writers[index % 2], 10, email=f"w{index}@acme.com") for index in range(8))
        )
        async with writers[0]() as session:
            checked, problem = await verify_chain(session=session)
    finally:
        await other.dispose()
    assert (checked, problem) == (80, None)


async def test_export_filters_and_formats(sessions: Sessions) -> None:
    await add_events(sessions, 3, actor=ADA, email="a@acme.com", run_id=7)
    await add_events(sessions, 2, actor=BOB, email="b@acme.com")
    out = io.StringIO()
    count = await export_events(
        sessions=sessions, filters=AuditFilter(actor_id="U0BOB"), output_format="csv", out=out
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 2 and {row["email"] for row in rows} == {"b@acme.com"}
    assert rows[0]["actor_name"] == "Bob" and rows[0]["action"] == "grant.created"
    out = io.StringIO()
    await export_events(
        sessions=sessions,
        filters=AuditFilter(run_id=7, email="A@ACME.COM"),
        output_format="jsonl",
        out=out,
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[0]["details"] == {"index": 0}


async def test_export_cli_streams_jsonl_with_filters(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 3, email="a@acme.com", run_id=7)
    await add_events(sessions, 2, email="b@acme.com")
    code, out, err = await run_cli(
        engine,
        "audit",
        "export",
        "--format",
        "jsonl",
        "--email",
        "b@acme.com",
        "--since",
        "2000-01-01",
        cwd=tmp_path,
    )
    assert code == 0, err
    assert [json.loads(line)["email"] for line in out.splitlines()] == ["b@acme.com"] * 2
    code, out, _ = await run_cli(
        engine, "audit", "export", "--run", "7", "--credential", "cred-1", cwd=tmp_path
    )
    assert len(list(csv.DictReader(io.StringIO(out)))) == 3
    code, _, err = await run_cli(engine, "audit", "export", "--since", "yesterday", cwd=tmp_path)
    assert code == 2 and "ISO date" in err


async def test_cli_refuses_an_unmigrated_database(database_url: str, tmp_path: Path) -> None:
    fresh = create_engine(database_url)
    try:
        assert await is_reachable(fresh)  # the database exists (a SQLite file too), but is empty
        code, _, err = await run_cli(fresh, "audit", "verify", cwd=tmp_path)
        assert code == 2 and "bulkauth db upgrade" in err
        code, out, _ = await run_cli(fresh, "db", "upgrade", cwd=tmp_path)
        assert code == 0 and "up to date" in out
        code, out, _ = await run_cli(fresh, "audit", "verify", cwd=tmp_path)
        assert code == 0
    finally:
        await fresh.dispose()
