"""The health endpoint of the running server."""

from __future__ import annotations

from tests.conftest import RunningBot, run_bot


async def test_healthz_reports_mode_database_and_version(bot: RunningBot) -> None:
    response = await bot.http.get(f"{bot.url}/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["mode"] == "http"
    assert body["database"] == "reachable"
    assert body["version"]


async def test_healthz_is_503_when_the_database_is_unreachable(make_settings) -> None:
    settings = make_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    async with run_bot(settings) as running:
        response = await running.http.get(f"{running.url}/healthz")
        assert response.status == 503
        assert (await response.json())["database"] == "unreachable"
