"""The audit key and anchors with the running bot: a generated key beside the SQLite file, a
refusal without a key on PostgreSQL, and anchors (file and Slack) that a cut log fails."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.audit import verify_chain
from storage.db import create_engine
from tests.cli import run_cli
from tests.conftest import AUDIT_KEY, BOT_TOKEN, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv
from tests.test_cli import serve_env, start_serve

ANCHORS = "C0ANCHORS"
ANCHOR_TEXT = re.compile(r"event #(\d+) has hash ([0-9a-f]{64})")


async def test_without_a_key_sqlite_gets_one_beside_its_file_owner_only(
    make_settings: SettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(bulkauth_audit_key=None)
    database = tmp_path / "bulkauth.db"
    key_file = tmp_path / "bulkauth.db.audit-key"
    with caplog.at_level(logging.WARNING):
        async with run_bot(settings) as bot:
            await bot.http.get(f"{bot.url}/nylas/callback?state=forged")  # one audit event
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert key.encode() not in database.read_bytes()
    assert "BULKAUTH_AUDIT_KEY" in caplog.text and str(key_file) in caplog.text
    assert key not in caplog.text
    async with run_bot(settings) as bot:  # the next start uses the same key
        assert key_file.read_text().strip() == key
        async with bot.deps.sessions() as session:
            assert await verify_chain(session=session) == (1, None)


async def test_postgresql_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    env = serve_env(DATABASE_URL="postgresql://bulkauth:dbcanarypw@127.0.0.1:1/bulkauth")
    process = await start_serve(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1
    assert "BULKAUTH_AUDIT_KEY is required with PostgreSQL" in err.decode()
    assert "Traceback" not in err.decode()


async def test_a_runs_end_is_anchored_and_a_cut_log_fails_the_anchors(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    anchor_file = tmp_path / "anchors.jsonl"
    settings = make_settings(
        bulkauth_audit_anchor_channel=ANCHORS, bulkauth_audit_anchor_file=anchor_file
    )
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, "a@acme.com\nb@acme.com\nc@acme.com")
        await wait_for_csv(slack)
        posted = await slack.wait_for(
            "chat.postMessage", lambda c: c.params.get("channel") == ANCHORS
        )
        await bot.settled()
    seq, anchored_hash = ANCHOR_TEXT.search(str(posted[-1].params["text"])).groups()  # type: ignore[union-attr]
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert (lines[-1]["seq"], lines[-1]["hash"]) == (int(seq), anchored_hash)
    slack.post_as("U0EVE", ANCHORS, f"bulkauth audit anchor: event #1 has hash {'f' * 64}")
    engine = create_engine(settings.database_url)
    from_slack = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": f"{slack.url}/api/",
        "BULKAUTH_AUDIT_ANCHOR_CHANNEL": ANCHORS,
    }
    try:
        code, out, err = await run_cli(
            engine, "audit", "verify", "--slack-anchors", cwd=tmp_path, env=from_slack
        )
        assert code == 0, out + err  # the planted message from someone else is ignored
        async with engine.begin() as connection:  # cut the run's end off, head moved back
            kept = int(seq) - 2
            kept_hash = (
                await connection.execute(
                    text("SELECT hash FROM audit_event WHERE seq = :s"), {"s": kept}
                )
            ).scalar_one()
            await connection.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": kept})
            await connection.execute(
                text("UPDATE audit_chain_head SET seq = :s, last_hash = :h"),
                {"s": kept, "h": kept_hash},
            )
        code, out, _ = await run_cli(engine, "audit", "verify", cwd=tmp_path)
        assert code == 0  # the chain alone cannot see a cut end
        code, out, _ = await run_cli(
            engine, "audit", "verify", "--anchors", str(anchor_file), cwd=tmp_path
        )
        assert code == 1 and f"audit event #{seq}: removed" in out
        code, out, _ = await run_cli(
            engine, "audit", "verify", "--slack-anchors", cwd=tmp_path, env=from_slack
        )
        assert code == 1 and f"audit event #{seq}: removed" in out
    finally:
        await engine.dispose()
    assert AUDIT_KEY not in anchor_file.read_text()
