"""Settings of a bot that talks to the local fakes only, for benchmarks that run it in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings
from tests.conftest import ADMIN, BOT_TOKEN, NYLAS_API_KEY
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET


def bench_settings(slack: FakeSlack, nylas: FakeNylas, workdir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": f"{slack.url}/api/",
        "nylas_api_key": NYLAS_API_KEY,
        "nylas_api_uri": nylas.url,
        "nylas_client_id": "nylas-client-id",
        "database_url": f"sqlite+aiosqlite:///{workdir / 'bulkauth.db'}",
        "bulkauth_admins": [ADMIN],
        "port": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)
