"""`bulkauth demo`: the real bot (the same `started_bot` as `bulkauth serve`, HTTP mode) against
the local fakes of Slack, Nylas, Google and Microsoft, SQLite in a temporary folder, and the demo
page that plays a Slack workspace for two people. Every token and key here is made up at start
and worthless anywhere else."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.demo.fakes.identity import AzureApp, FakeGoogle, FakeMicrosoft
from bot.demo.fakes.nylas import FakeNylas
from bot.demo.fakes.slack import FakeSlack
from bot.demo.samples import SERVICE_ACCOUNT, TEST_MAILBOX, Samples, generate
from bot.demo.session import DemoSession
from bot.demo.web import demo_app
from bot.logs import Redactor
from bot.nylas.scopes import GOOGLE_SCOPES
from bot.serve import started_bot
from bot.settings import Settings

REQUESTER = ("U0ADA", "Ada Lovelace", "requester")
APPROVER = ("U0GRACE", "Grace Hopper", "approver")
CHANNELS = {"C0OPS": "ops", "C0APPROVALS": "approvals"}
APPROVALS = "C0APPROVALS"
NYLAS_LATENCY_SECONDS = 0.08  # so the progress message visibly moves
AZURE_APP = "0d3e0000-de30-4000-8000-00000000a22e"
AZURE_SECRET = "demo-azure-secret-value"
AZURE_TENANT = "contoso.com"
CONSENT_WAIT_SECONDS = 30.0  # Microsoft's propagation wait, shortened for the demo


@dataclass
class Demo:
    url: str
    bot_url: str
    slack: FakeSlack
    nylas: FakeNylas
    google: FakeGoogle
    samples: Samples


async def _started_fakes(
    stack: AsyncExitStack, samples: Samples
) -> tuple[FakeSlack, FakeNylas, FakeGoogle, FakeMicrosoft]:
    slack = FakeSlack()
    for user_id, name, _role in (REQUESTER, APPROVER):
        slack.add_user(user_id, name, admin=True)
    nylas = FakeNylas(api_key=f"nylas-demo-{secrets.token_hex(8)}", latency=NYLAS_LATENCY_SECONDS)
    google = FakeGoogle()
    google.add_service_account(SERVICE_ACCOUNT, samples.private_pem, *GOOGLE_SCOPES)
    google.mailboxes.update([TEST_MAILBOX, *samples.users])
    microsoft = FakeMicrosoft(tenants={AZURE_TENANT})
    microsoft.apps[AZURE_APP] = AzureApp(secrets={AZURE_SECRET}, tenants={AZURE_TENANT})
    for fake in (slack, nylas, google, microsoft):
        await fake.start()
        stack.push_async_callback(fake.stop)
    return slack, nylas, google, microsoft


def _free_port() -> int:
    """A port for the bot, known before it starts: the consent links name its callback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_settings(
    slack: FakeSlack, nylas: FakeNylas, google: FakeGoogle, microsoft: FakeMicrosoft, folder: Path
) -> Settings:
    port = _free_port()
    return Settings(
        _env_file=None,
        slack_bot_token=f"xoxb-demo-{secrets.token_hex(8)}",
        slack_signing_secret=secrets.token_hex(16),
        slack_api_url=f"{slack.url}/api/",
        nylas_api_key=nylas.api_key,
        nylas_api_uri=nylas.url,
        nylas_client_id="demo-nylas-client-id",
        google_token_url=google.token_url,
        microsoft_login_url=microsoft.url,
        database_url=f"sqlite+aiosqlite:///{folder / 'bulkauth.db'}",
        bulkauth_admins=[REQUESTER[0], APPROVER[0]],
        bulkauth_approval_channel=APPROVALS,
        bulkauth_audit_key=secrets.token_hex(32),
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        bulkauth_consent_wait_seconds=CONSENT_WAIT_SECONDS,
        log_level="WARNING",
    )


@asynccontextmanager
async def running_demo(
    *, port: int = 8000, redactor: Redactor | None = None
) -> AsyncIterator[Demo]:
    """The fakes, the bot and the page, listening on 127.0.0.1 (`port` 0 picks a free one)."""
    samples = generate()
    async with AsyncExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bulkauth-demo-")))
        slack, nylas, google, microsoft = await _started_fakes(stack, samples)
        settings = demo_settings(slack, nylas, google, microsoft, folder)
        bot = await stack.enter_async_context(
            started_bot(
                settings, redactor=redactor or Redactor(), host="127.0.0.1", check_tokens=True
            )
        )
        http = await stack.enter_async_context(aiohttp.ClientSession())
        bot_url = f"http://127.0.0.1:{bot.port}"
        secret = settings.slack_signing_secret
        assert secret is not None  # HTTP mode
        session = DemoSession(slack, bot_url, secret.get_secret_value(), http)
        people = [{"id": i, "name": n, "role": r} for i, n, r in (REQUESTER, APPROVER)]
        azure = {"tenant": AZURE_TENANT, "client_id": AZURE_APP, "secret": AZURE_SECRET}
        app = demo_app(
            session, people=people, channels=CHANNELS, samples=samples.files(), azure=azure
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, host="127.0.0.1", port=port)
        await site.start()
        bound = runner.addresses[0][1]
        yield Demo(f"http://127.0.0.1:{bound}/demo/", bot_url, slack, nylas, google, samples)


async def run_demo(*, port: int, redactor: Redactor, announce: Callable[[Demo], None]) -> None:
    """Run until SIGINT or SIGTERM; `announce` tells the person where to look."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running_demo(port=port, redactor=redactor) as demo:
        announce(demo)
        await stop.wait()
