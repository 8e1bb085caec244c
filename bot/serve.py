"""`bulkauth serve`: open resources, check the tokens, start the HTTP server (and Socket Mode),
stop on a signal in every state (also while starting or while Slack is unreachable)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.app import build_app
from bot.deps import Deps
from bot.lifespan import DRAIN_SECONDS, lifespan
from bot.logs import Redactor, log_event
from bot.preflight import TokensRefused, preflight
from bot.runtime.heap import freeze_start_up_objects, limit_malloc_arenas
from bot.runtime.tasks import cancel_and_wait
from bot.server import BotServer, SlackLink, build_web_app
from bot.settings import Settings
from handlers.callback import consent_callback_route

log = logging.getLogger(__name__)
RECONNECT_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class StartedBot:
    deps: Deps
    app: AsyncApp
    port: int
    slack_link: SlackLink


async def _check_tokens(deps: Deps) -> None:
    found = await preflight(deps.slack, deps.nylas, deps.settings)
    if found.problems:
        raise TokensRefused(found.problems)
    for reason in found.unreachable:
        log_event(log, "startup.unreachable", logging.WARNING, reason=reason)


async def _connect_socket_mode(handler: AsyncSocketModeHandler, link: SlackLink) -> None:
    """Ask Slack for a websocket URL until it answers (one line per failed attempt, no
    traceback), then connect. The SDK's own loop would retry forever with a traceback each time."""
    delay = 1.0
    while True:
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
            break
        except SlackApiError as error:
            link.problem = f"Slack refused SLACK_APP_TOKEN ({error.response.get('error')})"
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            link.problem = f"Slack unreachable ({type(error).__name__})"
        log_event(log, "slack.not_connected", logging.WARNING, reason=link.problem, retry_in=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    link.connected, link.problem = True, None
    log_event(log, "slack.connected", mode="socket")


@asynccontextmanager
async def started_bot(
    settings: Settings, *, redactor: Redactor, host: str = "0.0.0.0", check_tokens: bool = False
) -> AsyncIterator[StartedBot]:
    """The whole bot, listening; on exit it stops taking requests, drains work and closes."""
    limit_malloc_arenas()  # before the database driver's threads start
    async with lifespan(settings, redactor=redactor) as deps:
        if check_tokens:
            await _check_tokens(deps)
        bolt_app = build_app(deps)
        link = SlackLink(connected=not settings.socket_mode)
        callback = consent_callback_route(deps)
        server = BotServer(build_web_app(deps, bolt_app, extra_routes=[callback], slack_link=link))
        port = await server.start(host=host, port=settings.port)
        socket_handler, connecting = None, None
        try:
            if settings.slack_app_token is not None:
                socket_handler = AsyncSocketModeHandler(
                    bolt_app, settings.slack_app_token.get_secret_value()
                )
                connecting = asyncio.create_task(_connect_socket_mode(socket_handler, link))
            yield StartedBot(deps=deps, app=bolt_app, port=port, slack_link=link)
        finally:
            log.info("shutting down")
            deps.alerts.begin_stop()  # early: the drain below can outlast the grace period
            await cancel_and_wait(connecting)
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            await server.stop()
            await deps.tasks.drain(timeout=DRAIN_SECONDS)


async def _run_until(
    stop: asyncio.Event, started: asyncio.Event, settings: Settings, redactor: Redactor
) -> None:
    async with started_bot(settings, redactor=redactor, check_tokens=True):
        freeze_start_up_objects()
        started.set()
        log.info("bulkauth is running (%s mode)", "socket" if settings.socket_mode else "http")
        await stop.wait()


async def serve(
    settings: Settings, *, redactor: Redactor, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM or SIGINT. A signal during start-up (migrations, token checks) cancels
    the start-up; once running, in-flight work drains first."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    started = asyncio.Event()
    running = asyncio.create_task(_run_until(stop, started, settings, redactor))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if stop.is_set() and not started.is_set():
        await cancel_and_wait(running)
        return
    await running
