"""`bulkauth serve`: open resources, start the HTTP server (and Socket Mode), stop on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.app import build_app
from bot.callback import consent_callback_route
from bot.deps import Deps
from bot.lifespan import lifespan
from bot.logs import Redactor
from bot.server import BotServer, build_web_app
from bot.settings import Settings

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


@dataclass(frozen=True)
class StartedBot:
    deps: Deps
    app: AsyncApp
    port: int


@asynccontextmanager
async def started_bot(
    settings: Settings, *, redactor: Redactor, host: str = "0.0.0.0"
) -> AsyncIterator[StartedBot]:
    """The whole bot, listening; on exit it stops taking requests, drains work and closes."""
    async with lifespan(settings, redactor=redactor) as deps:
        bolt_app = build_app(deps)
        callback = consent_callback_route(deps)
        server = BotServer(build_web_app(deps, bolt_app, extra_routes=[callback]))
        port = await server.start(host=host, port=settings.port)
        socket_handler = None
        try:
            if settings.slack_app_token is not None:
                socket_handler = AsyncSocketModeHandler(
                    bolt_app, settings.slack_app_token.get_secret_value()
                )
                await socket_handler.connect_async()  # type: ignore[no-untyped-call]
                log.info("connected to Slack in Socket Mode")
            yield StartedBot(deps=deps, app=bolt_app, port=port)
        finally:
            log.info("shutting down")
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            await server.stop()
            await deps.tasks.drain(timeout=DRAIN_SECONDS)


async def serve(
    settings: Settings, *, redactor: Redactor, stop: asyncio.Event | None = None
) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with started_bot(settings, redactor=redactor):
        log.info("bulkauth is running (%s mode)", "socket" if settings.socket_mode else "http")
        await stop.wait()
