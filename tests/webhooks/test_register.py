"""`bulkauth webhook register` against the fake Nylas, which checks the running bot's URL with
its challenge first, as Nylas does."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from tests.cli import run_cli
from tests.conftest import BOT_TOKEN, NYLAS_API_KEY, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas

TRIGGERS = ["grant.created", "grant.updated", "grant.deleted", "grant.expired"]


def register_env(nylas: FakeNylas, public_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "signing-secret",
        "NYLAS_API_KEY": NYLAS_API_KEY,
        "NYLAS_API_URI": nylas.url,
        "PUBLIC_BASE_URL": public_url,
    }


async def test_register_creates_the_destination_once_and_prints_the_secret_only_then(
    make_settings: SettingsFactory, nylas: FakeNylas, tmp_path: Path
) -> None:
    async with run_bot(make_settings()) as bot:
        engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        env = register_env(nylas, bot.url)
        code, out, err = await run_cli(engine, "webhook", "register", cwd=tmp_path, env=env)
        assert code == 0, err
        [webhook] = nylas.webhooks.values()
        assert webhook["webhook_url"] == f"{bot.url}/nylas/webhook"
        assert webhook["trigger_types"] == TRIGGERS
        assert f"NYLAS_WEBHOOK_SECRET={webhook['webhook_secret']}" in out.splitlines()
        code, out, err = await run_cli(
            engine, "webhook", "register", "--json", cwd=tmp_path, env=env
        )
        assert code == 0, err
        again = json.loads(out)
        assert (again["id"], again["created"], again["webhook_secret"]) == (
            webhook["id"],
            False,
            None,
        )
        assert len(nylas.webhooks) == 1
        await engine.dispose()


async def test_register_fails_when_nylas_cannot_reach_the_bot(
    nylas: FakeNylas, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    env = register_env(nylas, "http://127.0.0.1:9")
    code, _out, err = await run_cli(engine, "webhook", "register", cwd=tmp_path, env=env)
    assert code == 1
    assert "challenge" in err
    assert nylas.webhooks == {}
    await engine.dispose()
