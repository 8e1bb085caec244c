"""The one HTTP server of the bot: health, Slack events (HTTP mode), the Nylas callback and the
Nylas webhook."""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot import package_version
from bot.deps import Deps
from bot.logs import log_event
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.webhooks.endpoint import webhook_routes
from storage.db import is_reachable
from storage.models import RunStatus
from storage.runs import run_counts_by_status

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
SIGNATURE_MAX_AGE_SECONDS = 5 * 60  # Slack's own rule for replayed requests
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass
class SlackLink:
    """Whether Slack can reach the bot: always in HTTP mode; in Socket Mode once connected."""

    connected: bool
    problem: str | None = "connecting"


class SlackSignature:
    """Checks `x-slack-signature` before anything reads the body: an unsigned request is never
    parsed, answered, logged or trusted."""

    def __init__(self, signing_secret: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)

    def problem(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Why the request is not Slack's (a short reason for the log), or None."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not signature:
            return "no signature"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "malformed timestamp"
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return "stale timestamp"
        if not self._verifier.is_valid(body, timestamp, signature):
            return "bad signature"
        return None


def build_web_app(
    deps: Deps,
    bolt_app: AsyncApp,
    extra_routes: Iterable[web.RouteDef] = (),
    slack_link: SlackLink | None = None,
) -> web.Application:
    link = slack_link or SlackLink(connected=True)

    async def healthz(_request: web.Request) -> web.Response:
        database_ok = await is_reachable(deps.database)
        body = {
            "mode": "socket" if deps.settings.socket_mode else "http",
            "database": "reachable" if database_ok else "unreachable",
            "version": package_version(),
        }
        if deps.settings.socket_mode:  # only there does Slack depend on a connection of ours
            body["slack"] = "connected" if link.connected else link.problem or "connecting"
        healthy = database_ok and link.connected
        return web.json_response(body, status=200 if healthy else 503)

    def slack_events_route(signing_secret: str) -> web.RouteDef:
        signature = SlackSignature(signing_secret)

        async def slack_events(request: web.Request) -> web.Response:
            problem = signature.problem(await request.read(), request.headers)
            if problem is not None:
                log_event(log, "slack.request_rejected", reason=problem, remote=request.remote)
                return web.json_response({"error": "invalid request"}, status=401)
            response = await bolt_app.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(response)

        return web.post(SLACK_EVENTS_PATH, slack_events)

    token = deps.settings.bulkauth_metrics_token
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    async def metrics(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            log_event(log, "metrics.request_rejected", remote=request.remote)
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        async with deps.sessions() as session:
            by_status = await run_counts_by_status(session=session)
        # Every known status, so a count falling to 0 shows as 0; and any other found stored.
        for status in {*(s.value for s in RunStatus), *by_status}:
            deps.metrics.runs.labels(status).set(by_status.get(status, 0))
        body = deps.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(METRICS_PATH, metrics)
    signing_secret = deps.settings.slack_signing_secret
    if not deps.settings.socket_mode and signing_secret is not None:  # Settings require it
        web_app.router.add_routes([slack_events_route(signing_secret.get_secret_value())])
    web_app.router.add_routes(webhook_routes(deps.webhooks))
    web_app.router.add_routes(list(extra_routes))
    return web_app


class BotServer:
    """Runs the web app on a port; `start` returns the port actually bound (0 picks one)."""

    def __init__(self, web_app: web.Application) -> None:
        # Bodies are read as sent: a compressed Nylas webhook is verified on its raw bytes and
        # decompressed (with a size cap) only after that (bot/webhooks/notifications.py).
        self._runner = web.AppRunner(
            web_app, access_log=None, shutdown_timeout=10, auto_decompress=False
        )

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
