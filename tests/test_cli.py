"""`bulkauth serve` as a real process: configuration errors, and a healthy start and stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from tests.conftest import AUDIT_KEY, BOT_TOKEN, NYLAS_API_KEY
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET


def clean_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR"}
    return {name: value for name, value in os.environ.items() if name in keep}


def serve_env(**settings: str) -> dict[str, str]:
    """A clean environment with the settings `serve` needs in HTTP mode, plus `settings`."""
    return {
        **clean_env(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "NYLAS_API_KEY": NYLAS_API_KEY,
        "PORT": str(free_port()),
        **settings,
    }


async def start_serve(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m bot serve` as a separate process, its output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_without_settings_exits_fast_with_one_line_per_problem(tmp_path: Path) -> None:
    started = time.monotonic()
    process = await start_serve(tmp_path, clean_env())
    _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    lines = err.decode().splitlines()
    assert "  SLACK_BOT_TOKEN: missing (required)" in lines
    assert "  NYLAS_API_KEY: missing (required)" in lines
    assert "Traceback" not in err.decode()
    assert time.monotonic() - started < 10  # includes interpreter start; the check is instant


async def test_serve_never_prints_a_secret_it_rejects(tmp_path: Path) -> None:
    env = {
        **clean_env(),
        "SLACK_BOT_TOKEN": "xoxp-canary-value-123",
        "NYLAS_API_KEY": "k",
        "SLACK_SIGNING_SECRET": "s",
        "PORT": "not-a-port",
    }
    process = await start_serve(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert "canary" not in err.decode()
    assert "PORT:" in err.decode()


async def test_serve_in_http_mode_is_healthy_and_stops_on_sigterm(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas
) -> None:
    port = free_port()
    env = serve_env(
        SLACK_API_URL=f"{slack.url}/api/",
        NYLAS_API_URI=nylas.url,
        PORT=str(port),
        LOG_FORMAT="json",
    )
    process = await start_serve(tmp_path, env)
    assert process.stderr is not None
    early = await _read_until(process.stderr, "bulkauth is running")
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            body = await response.json()
        assert response.status == 200
        assert body == {"mode": "http", "database": "reachable", "version": body["version"]}
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0
    assert (tmp_path / "bulkauth.db").exists()
    log = early + err.decode()
    assert '"message": "shutting down"' in log
    assert BOT_TOKEN not in log and NYLAS_API_KEY not in log and SIGNING_SECRET not in log


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    """Read the process's log until it says `marker` (it is then listening)."""
    seen = ""
    async with asyncio.timeout(20):
        while marker not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"process ended before {marker!r}:\n{seen}")
            seen += line.decode()
    return seen


async def test_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = serve_env(
        DATABASE_URL="postgresql://bulkauth:dbcanarypw@127.0.0.1:1/bulkauth",
        BULKAUTH_AUDIT_KEY=AUDIT_KEY,  # PostgreSQL needs one; the database is what fails here
    )
    process = await start_serve(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1
    assert "bulkauth: cannot start:" in err.decode() and "AUDIT_KEY" not in err.decode()
    assert "Traceback" not in err.decode() and "dbcanarypw" not in err.decode()


async def test_serve_refuses_an_old_schema_when_auto_migration_is_off(tmp_path: Path) -> None:
    env = serve_env(BULKAUTH_AUTO_MIGRATE="false")
    process = await start_serve(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1
    assert "lacks migrations" in err.decode() and "bulkauth db upgrade" in err.decode()
