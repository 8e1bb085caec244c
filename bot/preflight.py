"""Start-up checks of the tokens: Slack's `auth.test` (and, in Socket Mode, `apps.connections.open`
with the app token) and one cheap Nylas call. `bulkauth serve` runs them before it listens and
`bulkauth check` runs them on demand.

A token the service refuses is a problem: the bot cannot work and says so in one line each. A
service that does not answer is only unreachable: `serve` starts anyway (and, in Socket Mode,
keeps trying to connect while /healthz says why it is not ready).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasAuthError, NylasError, NylasTransportError
from bot.settings import Settings

CHECK_SECONDS = 10.0  # per service; a start-up never waits longer on one that does not answer
_UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)  # wrong tokens: the bot cannot work
    unreachable: list[str] = field(default_factory=list)  # no answer: may come back
    fine: list[str] = field(default_factory=list)


async def _slack_refuses(variable: str, call: Awaitable[object], found: Findings) -> bool:
    try:
        await call
    except SlackApiError as error:
        found.problems.append(f"{variable}: Slack refused it ({error.response.get('error')})")
        return True
    return False


async def check_slack(slack: AsyncWebClient, settings: Settings, found: Findings) -> None:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            identity = await slack.auth_test()
            if settings.slack_app_token is not None:
                app_token = settings.slack_app_token.get_secret_value()
                opened = slack.apps_connections_open(app_token=app_token)
                if await _slack_refuses("SLACK_APP_TOKEN", opened, found):
                    return
    except SlackApiError as error:
        found.problems.append(f"SLACK_BOT_TOKEN: Slack refused it ({error.response.get('error')})")
        return
    except _UNREACHABLE as error:
        found.unreachable.append(f"Slack: no answer ({type(error).__name__})")
        return
    found.fine.append(f"Slack: bot {identity.get('user_id')} in {identity.get('team')}")


async def check_nylas(nylas: NylasClient, found: Findings) -> None:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            connectors = await nylas.list_connectors()
    except NylasAuthError as error:
        found.problems.append(f"NYLAS_API_KEY: Nylas refused it ({error.status})")
        return
    except (NylasTransportError, *_UNREACHABLE) as error:
        found.unreachable.append(f"Nylas: no answer ({type(error).__name__})")
        return
    except NylasError as error:
        found.unreachable.append(f"Nylas: answered {error.status}")
        return
    providers = ", ".join(sorted(c.provider for c in connectors)) or "none"
    found.fine.append(f"Nylas: connectors {providers}")


async def preflight(slack: AsyncWebClient, nylas: NylasClient, settings: Settings) -> Findings:
    found = Findings()
    await asyncio.gather(check_slack(slack, settings, found), check_nylas(nylas, found))
    return found


class TokensRefused(RuntimeError):
    """Start-up stops: a service refused a token (one line per problem in `lines`)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines
