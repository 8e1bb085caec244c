"""The Slack Web API client, with retries on rate limits and server errors."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

SLACK_RETRIES = 4


def build_slack_client(settings: Settings, session: aiohttp.ClientSession) -> AsyncWebClient:
    """One pooled aiohttp session serves every call (the SDK default opens one per call)."""
    base_url = settings.slack_api_url or AsyncWebClient.BASE_URL
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url.rstrip("/") + "/",
        timeout=15,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=SLACK_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
