"""Someone with write access to the database (but not the audit key) rewrites history; the
command line's `audit verify` must say so, with anchors where the chain alone cannot."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from storage.audit import Actor, AuditAction, Subject, legacy_event_hash, record_event
from storage.db import Sessions
from storage.models import AuditEvent
from tests.cli import run_cli

ADA = Actor("U0ADA", "Ada")


async def add_events(sessions: Sessions, count: int, *, email: str = "user@acme.com") -> None:
    for index in range(count):
        async with sessions() as session:
            await record_event(
                session=session,
                actor=ADA,
                action=AuditAction.GRANT_CREATED,
                subject=Subject(email=email, grant_id=f"g{index}"),
                details={"index": index},
            )
            await session.commit()


def attackers_hash(event: AuditEvent, prev_hash: str) -> str:
    """What anyone reading the source can compute without the key: the unkeyed hash of the
    canonical content (storage.audit.legacy_event_hash), chained to `prev_hash`."""
    event.prev_hash = prev_hash
    return legacy_event_hash(event)


async def rewrite_with_recomputed_hashes(engine: AsyncEngine, sessions: Sessions) -> None:
    """Edit event #3's mailbox, then recompute every hash and the head, as an attacker would."""
    async with sessions() as session:
        events = list((await session.exec(select(AuditEvent).order_by(col(AuditEvent.seq)))).all())
    prev = "0" * 64
    async with engine.begin() as connection:
        for event in events:
            if event.seq == 3:
                event.email = "eve@acme.com"
            new_hash = attackers_hash(event, prev)
            await connection.execute(
                text("UPDATE audit_event SET email = :e, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"e": event.email, "p": prev, "h": new_hash, "s": event.seq},
            )
            prev = new_hash
        await connection.execute(text("UPDATE audit_chain_head SET last_hash = :h"), {"h": prev})


async def head(engine: AsyncEngine) -> tuple[int, str]:
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT seq, last_hash FROM audit_chain_head"))).one()
    return int(row[0]), str(row[1])


async def write_anchor_file(engine: AsyncEngine, path: Path) -> None:
    """An anchor as the bot appends it: the head's sequence number and hash, one JSON line."""
    seq, last_hash = await head(engine)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"seq": seq, "hash": last_hash, "at": "2026-11-30T10:00:00"}) + "\n")


async def test_an_edit_with_every_hash_recomputed_is_caught(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 5)
    await rewrite_with_recomputed_hashes(engine, sessions)
    code, out, err = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert code == 1, out + err
    assert "audit chain BROKEN at audit event #1: altered" in out


async def test_a_cut_off_end_is_caught_by_the_anchors(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 6)
    anchors = tmp_path / "anchors.jsonl"
    await write_anchor_file(engine, anchors)
    async with engine.begin() as connection:  # delete the last two, move the head back
        last_kept = (
            await connection.execute(text("SELECT hash FROM audit_event WHERE seq = 4"))
        ).scalar_one()
        await connection.execute(text("DELETE FROM audit_event WHERE seq > 4"))
        await connection.execute(
            text("UPDATE audit_chain_head SET seq = 4, last_hash = :h"), {"h": last_kept}
        )
    code, out, err = await run_cli(
        engine, "audit", "verify", "--anchors", str(anchors), cwd=tmp_path
    )
    assert code == 1, out + err
    assert "audit event #6: removed" in out


async def test_an_emptied_and_refilled_log_is_caught_by_the_anchors(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 4)
    anchors = tmp_path / "anchors.jsonl"
    await write_anchor_file(engine, anchors)
    async with engine.begin() as connection:  # everything gone, the head reset to genesis
        await connection.execute(text("DELETE FROM audit_event"))
        await connection.execute(
            text("UPDATE audit_chain_head SET seq = 0, last_hash = :h"), {"h": "0" * 64}
        )
    code, out, _ = await run_cli(engine, "audit", "verify", "--anchors", str(anchors), cwd=tmp_path)
    assert code == 1 and "audit event #4: removed" in out
    await add_events(sessions, 5, email="other@acme.com")  # a new history, validly chained
    code, out, _ = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert code == 0  # the chain alone cannot tell…
    code, out, _ = await run_cli(engine, "audit", "verify", "--anchors", str(anchors), cwd=tmp_path)
    assert code == 1 and "audit event #4: replaced" in out  # …the anchor can


async def test_a_missing_or_doubled_head_row_is_a_break_not_a_traceback(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    await add_events(sessions, 3)
    seq, last_hash = await head(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (2, :s, :h)"),
            {"s": seq, "h": last_hash},
        )
    code, out, err = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert (code, "Traceback" in err) == (1, False), err
    assert "audit chain BROKEN at the chain head: there are 2 head rows" in out
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_chain_head"))
    code, out, err = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert (code, "Traceback" in err) == (1, False), err
    assert "audit chain BROKEN at the chain head: its row is missing" in out
