"""`bulkauth serve` in Socket Mode and its start-up checks, as real processes: Slack unreachable,
Slack connected, tokens refused; `bulkauth check` on demand."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.test_cli import _read_until, free_port, serve_env, start_serve
from tests.test_cli_startup import bulkauth, finish

APP_TOKEN = "xapp-test-A0BULK-app-token"  # obviously fake
STOP_SECONDS = 5  # the bound: a signal stops the bot within 5 s in every state


def socket_env(slack_url: str, nylas: FakeNylas, **more: str) -> dict[str, str]:
    env = serve_env(
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=f"{slack_url}/api/",
        NYLAS_API_URI=nylas.url,
        **more,
    )
    env.pop("SLACK_SIGNING_SECRET")
    return env


async def health(port: str) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def stop_within_bound(process: asyncio.subprocess.Process, signum: int) -> str:
    process.send_signal(signum)
    return await finish(process, STOP_SECONDS)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_with_slack_unreachable_health_says_why_and_a_signal_stops_it(
    tmp_path: Path, nylas: FakeNylas, signum: int
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = socket_env(unreachable, nylas)
    process = await start_serve(tmp_path, env)
    assert process.stderr is not None
    try:
        early = await _read_until(process.stderr, "slack.not_connected")
        status, body = await health(env["PORT"])
    finally:
        late = await stop_within_bound(process, signum)
    assert status == 503
    assert body["slack"].startswith("Slack unreachable")
    assert process.returncode == 0
    log = early + late
    assert "Traceback" not in log
    assert "token will be unused" not in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_connected_in_socket_mode_it_is_healthy_and_a_signal_stops_it(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas, signum: int
) -> None:
    env = socket_env(slack.url, nylas)
    process = await start_serve(tmp_path, env)
    assert process.stderr is not None
    try:
        early = await _read_until(process.stderr, "slack.connected")
        await slack.wait_for("socket.connected")
        status, body = await health(env["PORT"])
    finally:
        late = await stop_within_bound(process, signum)
    assert (status, body["slack"], body["mode"]) == (200, "connected", "socket")
    assert process.returncode == 0
    await slack.wait_for("socket.closed")
    assert [call.token for call in slack.calls_to("apps.connections.open")][0] == APP_TOKEN
    log = early + late
    assert "Traceback" not in log and "token will be unused" not in log
    assert APP_TOKEN not in log


async def test_refused_tokens_stop_serve_with_one_line_each(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas
) -> None:
    slack.fail_next("auth.test", status=200, error="invalid_auth", retry_after=None)
    env = serve_env(
        SLACK_API_URL=f"{slack.url}/api/",
        NYLAS_API_URI=nylas.url,
        NYLAS_API_KEY="nylas-wrong-key-canary",
    )
    process = await start_serve(tmp_path, env)
    err = await finish(process, 30)
    lines = [line.strip() for line in err.splitlines()]
    assert process.returncode == 1
    assert "SLACK_BOT_TOKEN: Slack refused it (invalid_auth)" in lines
    assert "NYLAS_API_KEY: Nylas refused it (401)" in lines
    assert "Traceback" not in err and "canary" not in err


async def test_a_wrong_app_token_stops_socket_mode_at_start(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas
) -> None:
    slack.fail_next("apps.connections.open", status=200, error="invalid_auth", retry_after=None)
    process = await start_serve(tmp_path, socket_env(slack.url, nylas))
    err = await finish(process, 30)
    assert process.returncode == 1
    assert "  SLACK_APP_TOKEN: Slack refused it (invalid_auth)" in err.splitlines()


async def test_check_runs_the_same_checks_on_demand(
    tmp_path: Path, slack: FakeSlack, nylas: FakeNylas
) -> None:
    env = serve_env(SLACK_API_URL=f"{slack.url}/api/", NYLAS_API_URI=nylas.url)
    code, out, err = await bulkauth(tmp_path, "check", **env)
    assert code == 0, err
    assert out.splitlines() == [
        "ok: Slack: bot U0BOT in Fake",
        "ok: Nylas: connectors google, microsoft",
    ]
    slack.fail_next("auth.test", status=200, error="token_revoked", retry_after=None)
    code, _out, err = await bulkauth(tmp_path, "check", **{**env, "NYLAS_API_KEY": "wrong-key"})
    assert code == 1
    assert err.splitlines() == [
        "problem: SLACK_BOT_TOKEN: Slack refused it (token_revoked)",
        "problem: NYLAS_API_KEY: Nylas refused it (401)",
    ]
    assert not (tmp_path / "bulkauth.db").exists()  # a check touches no database
