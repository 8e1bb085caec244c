"""The health endpoint of the running server."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from tests.conftest import RunningBot, SettingsFactory, run_bot
from tests.databases import PostgresServer


async def test_healthz_reports_mode_database_and_version(bot: RunningBot) -> None:
    response = await bot.http.get(f"{bot.url}/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["mode"] == "http"
    assert body["database"] == "reachable"
    assert body["version"]


async def test_healthz_is_503_when_the_database_goes_away(
    make_settings: SettingsFactory, postgres_server: PostgresServer
) -> None:
    database_url = await postgres_server.new_database()
    name = make_url(database_url).database
    async with run_bot(make_settings(database_url=database_url)) as running:
        assert (await running.http.get(f"{running.url}/healthz")).status == 200
        admin = await asyncpg.connect(
            user="postgres", host=postgres_server.socket_dir, database="postgres"
        )
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            response = await running.http.get(f"{running.url}/healthz")
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        assert (await running.http.get(f"{running.url}/healthz")).status == 200
