"""Shared fixtures: fake Slack (and fake Nylas), settings without the environment, a running bot."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.deps import Deps
from bot.logs import Redactor
from bot.serve import started_bot
from bot.settings import Settings
from storage.audit_key import AuditKey
from storage.db import Sessions, create_engine, session_factory
from storage.migrate import upgrade
from tests.contracts.nylas_spec import check_exchange
from tests.databases import PostgresServer
from tests.fakes.identity import AzureApp, FakeGoogle, FakeMicrosoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET, form_body, payload_body, signed_headers

ADMIN = "U0ADMIN"
OUTSIDER = "U0OUTSIDER"
BOT_TOKEN = "xoxb-test-0000-bot-token"
NYLAS_API_KEY = "nylas-test-api-key-0123456789"
AUDIT_KEY = "audit-test-key-0123456789abcdef0123456789abcdef"  # the CLI gets it too (tests/cli.py)
SettingsFactory = Callable[..., Settings]
pytest_plugins = ["tests.timeouts"]


@pytest.fixture
async def nylas() -> AsyncIterator[FakeNylas]:
    """Fake Nylas as a real local HTTP server; every exchange is checked against the spec."""
    fake = FakeNylas(api_key=NYLAS_API_KEY)
    await fake.start()
    yield fake
    await fake.stop()
    for record in fake.requests:
        if record.off_spec:  # a field fault the test injected on purpose
            continue
        check_exchange(record.method, record.path, record.body, record.status, record.response)


_OWNED_PREFIXES = (
    "SLACK_",
    "NYLAS_",
    "BULKAUTH_",
    "DATABASE_URL",
    "PUBLIC_BASE_URL",
    "PORT",
    "LOG_",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's environment or .env file."""
    for name in list(os.environ):
        if name.upper().startswith(_OWNED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_user(ADMIN, "Ada Admin")
    fake.add_user(OUTSIDER, "Oscar Outsider")
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.unescaped_markup() == [], "user input reached Slack's mrkdwn unescaped"


AZURE_APP = "2f70abcd-1234-abcd-1234-abcd0316be16"
AZURE_SECRET = "ms-secret-value-1234"


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    """Google's token endpoint; tests add the service accounts and mailboxes they need."""
    fake = FakeGoogle()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def microsoft() -> AsyncIterator[FakeMicrosoft]:
    """Microsoft's login endpoint, knowing the test Azure app in contoso.com."""
    fake = FakeMicrosoft(tenants={"contoso.com"})
    fake.apps[AZURE_APP] = AzureApp(secrets={AZURE_SECRET}, tenants={"contoso.com"})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def make_settings(
    slack: FakeSlack,
    nylas: FakeNylas,
    google: FakeGoogle,
    microsoft: FakeMicrosoft,
    tmp_path: Path,
) -> SettingsFactory:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": f"{slack.url}/api/",
            "nylas_api_key": NYLAS_API_KEY,
            "nylas_api_uri": nylas.url,
            "nylas_client_id": "nylas-client-id",
            "google_token_url": google.token_url,
            "microsoft_login_url": microsoft.url,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bulkauth.db'}",
            "bulkauth_admins": [ADMIN],
            "bulkauth_audit_key": AUDIT_KEY,
            "bulkauth_nylas_max_backoff_seconds": 0.05,
            "bulkauth_nylas_rps": 200,
            "port": 0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return build


@dataclass
class RunningBot:
    """The bot's real HTTP server on a local port, plus what tests need to talk to it."""

    url: str
    deps: Deps
    app: AsyncApp
    http: aiohttp.ClientSession

    async def post_signed(
        self, body: str, *, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        response = await self.http.post(
            f"{self.url}/slack/events", data=body.encode(), headers=headers or signed_headers(body)
        )
        await response.read()
        return response

    async def command(self, fields: dict[str, str]) -> aiohttp.ClientResponse:
        return await self.post_signed(form_body(fields))

    async def interact(self, payload: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.post_signed(payload_body(payload))

    async def event(self, envelope: dict[str, Any]) -> aiohttp.ClientResponse:
        """An Events API request (JSON, signed like every other)."""
        body = json.dumps(envelope)
        return await self.post_signed(
            body, headers=signed_headers(body, content_type="application/json")
        )

    async def settled(self) -> None:
        """Wait until the bot has finished the work its last requests started."""
        assert not await self.deps.tasks.wait_idle(timeout=10), "bot still busy after 10 s"


@asynccontextmanager
async def run_bot(
    settings: Settings, redactor: Redactor | None = None
) -> AsyncIterator[RunningBot]:
    """The same composition `bulkauth serve` runs, on a free local port."""
    started = started_bot(settings, redactor=redactor or Redactor(), host="127.0.0.1")
    async with started as running, aiohttp.ClientSession() as http:
        yield RunningBot(
            url=f"http://127.0.0.1:{running.port}", deps=running.deps, app=running.app, http=http
        )


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> AsyncIterator[RunningBot]:
    async with run_bot(make_settings()) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("postgres") / "data")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (the storage tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'storage.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await server.new_database()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on each kind of database."""
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return session_factory(engine, audit_key=AuditKey(AUDIT_KEY))
