"""The one HTTP server of the bot: health, Slack events (HTTP mode) and the Nylas callback."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import package_version
from bot.deps import Deps
from storage.db import is_reachable

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def build_web_app(
    deps: Deps, bolt_app: AsyncApp, extra_routes: Iterable[web.RouteDef] = ()
) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        database_ok = await is_reachable(deps.engine)
        body = {
            "mode": "socket" if deps.settings.socket_mode else "http",
            "database": "reachable" if database_ok else "unreachable",
            "version": package_version(),
        }
        return web.json_response(body, status=200 if database_ok else 503)

    async def slack_events(request: web.Request) -> web.Response:
        response = await bolt_app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_get(HEALTH_PATH, healthz)
    if not deps.settings.socket_mode:
        web_app.router.add_post(SLACK_EVENTS_PATH, slack_events)
    web_app.router.add_routes(list(extra_routes))
    return web_app


class BotServer:
    """Runs the web app on a port; `start` returns the port actually bound (0 picks one)."""

    def __init__(self, web_app: web.Application) -> None:
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=10)

    async def start(self, *, host: str = "0.0.0.0", port: int) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host=host, port=port)
        await site.start()
        bound = self._runner.addresses[0][1]
        log.info("listening on %s:%s", host, bound)
        return int(bound)

    async def stop(self) -> None:
        # Graceful: in-flight requests (acks) finish before the sockets close.
        await self._runner.cleanup()
