"""A log written before audit keys (plain SHA-256 hashes) stays verifiable after the upgrade:
its events keep their hashes, new ones are keyed, and an edit to the old part is still caught."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from storage.audit import verify_chain
from storage.audit_key import AuditKey
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import AuditEvent
from tests.cli import run_cli
from tests.conftest import AUDIT_KEY
from tests.storage.test_audit_tamper import add_events, attackers_hash


async def write_legacy_events(database_url: str, count: int) -> None:
    """Events as the bot wrote them before keys: SHA-256 chained, the head following."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0002")
        prev = "0" * 64
        async with engine.begin() as connection:
            for seq in range(1, count + 1):
                event = AuditEvent(
                    seq=seq,
                    occurred_at=datetime(2026, 11, 1, 9, seq, tzinfo=UTC),
                    actor_id="U0OLD",
                    actor_name="Old Timer",
                    action="grant.created",
                    email=f"old{seq}@acme.com",
                    details="{}",
                    prev_hash=prev,
                    hash="",
                )
                event.hash = attackers_hash(event, prev)
                await connection.execute(
                    text(
                        "INSERT INTO audit_event (seq, occurred_at, actor_id, actor_name, action, "
                        "outcome, email, details, prev_hash, hash) VALUES (:seq, :at, 'U0OLD', "
                        "'Old Timer', 'grant.created', 'ok', :email, '{}', :prev, :hash)"
                    ),
                    {
                        "seq": seq,
                        "at": event.occurred_at,
                        "email": event.email,
                        "prev": prev,
                        "hash": event.hash,
                    },
                )
                prev = event.hash
            await connection.execute(
                text("UPDATE audit_chain_head SET seq = :s, last_hash = :h"),
                {"s": count, "h": prev},
            )
    finally:
        await engine.dispose()


async def test_a_legacy_chain_migrates_and_stays_verifiable(
    database_url: str, tmp_path: Path
) -> None:
    await write_legacy_events(database_url, 3)
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine, audit_key=AuditKey(AUDIT_KEY))
        await add_events(sessions, 2)
        async with sessions() as session:
            assert await verify_chain(session=session) == (5, None)
        code, out, err = await run_cli(engine, "audit", "verify", cwd=tmp_path)
        assert (code, out.strip()) == (0, "audit chain intact: 5 events"), err
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_event SET email = 'eve@acme.com' WHERE seq = 2")
            )
        async with sessions() as session:
            _, problem = await verify_chain(session=session)
        assert (
            problem is not None
            and problem.describe() == "audit event #2: altered (its content no longer matches)"
        )
    finally:
        await engine.dispose()
