"""The command line as a new user meets it: wrong settings, the wrong folder, a first upgrade."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.test_cli import clean_env, serve_env, start_serve


async def bulkauth(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={**clean_env(), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def finish(process: asyncio.subprocess.Process, timeout: float) -> str:
    """The process's remaining stderr once it ends; killed (and the test failed) if it does not
    end within `timeout` seconds, so no failing test leaves a bot running."""
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running after {timeout} s") from None
    return err.decode()


async def test_serve_with_a_mysql_url_says_so_in_one_line(tmp_path: Path) -> None:
    process = await start_serve(
        tmp_path, serve_env(DATABASE_URL="mysql://bulkauth:mysqlcanarypw@db/bulkauth")
    )
    text = await finish(process, 30)
    assert process.returncode == 2
    assert "Traceback" not in text and "mysqlcanarypw" not in text
    assert any(line.strip().startswith("DATABASE_URL: ") for line in text.splitlines())


async def test_serve_refuses_names_where_ids_belong(tmp_path: Path) -> None:
    env = serve_env(BULKAUTH_ADMINS="ann", BULKAUTH_APPROVAL_CHANNEL="#ops")
    process = await start_serve(tmp_path, env)
    lines = [line.strip() for line in (await finish(process, 30)).splitlines()]
    assert process.returncode == 2
    assert any(line.startswith("BULKAUTH_ADMINS: 'ann' is not a Slack user id") for line in lines)
    assert any(line.startswith("BULKAUTH_APPROVAL_CHANNEL: must be a channel id") for line in lines)


async def test_a_command_in_another_folder_names_the_missing_database(tmp_path: Path) -> None:
    code, _out, err = await bulkauth(tmp_path, "audit", "verify")
    assert code == 2
    assert err.strip() == (
        f"bulkauth: no database at {tmp_path / 'bulkauth.db'} (DATABASE_URL?)"
    ), err
    assert not (tmp_path / "bulkauth.db").exists()  # nothing created on the way


async def test_db_upgrade_lists_the_migrations_it_applied(tmp_path: Path) -> None:
    code, out, err = await bulkauth(tmp_path, "db", "upgrade")
    assert code == 0, err
    assert out.splitlines() == [
        "applied 0001 initial schema",
        "applied 0002 bulk run thread",
        "applied 0003 where a run's approval request was posted",
        "applied 0004 audit keyed hashes",
        "applied 0005 run hold",
        "applied 0006 approval policy",
        "applied 0007 run cancel report",
        "applied 0008 credential rotation",
        "applied 0009 credential deleted",
        "applied 0010 grant health",
        "applied 0011 webhooks",
        "applied 0012 revoke across every credential",
        "applied 0013 what each replica calling Nylas holds of the budget",
        "database is up to date",
    ]
    code, out, _err = await bulkauth(tmp_path, "db", "upgrade")
    assert code == 0
    assert out.splitlines() == ["nothing to apply; database is up to date"]
    code, out, _err = await bulkauth(tmp_path, "audit", "verify")
    assert code == 0 and "audit chain intact: 0 events" in out
