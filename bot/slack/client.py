"""The Slack Web API client, with retries on rate limits and server errors."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics, slack_error_label
from bot.settings import Settings

SLACK_RETRIES = 4
TIMEOUT_SECONDS = 15.0  # one attempt of a Slack call
# What a Slack call raises when no answer came (its retries spent), and when it failed at all
UNANSWERED = (aiohttp.ClientError, TimeoutError)
CALL_FAILED = (SlackApiError, *UNANSWERED)
# Slack's refusals to post in a channel that retrying will not change (the bot is not in it, it is
# gone...): the person who chose the channel can act on them
CHANNEL_PROBLEMS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "message_not_found", "restricted_action"}
)


def failure_reason(error: BaseException) -> str:
    """Slack's error code for a refused call; the exception's kind for one never answered."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__


def told_reason(error: BaseException) -> str:
    """A failed Slack call as a person is told of it: refused with its code, or not answered."""
    if isinstance(error, SlackApiError):
        return f"Slack refused ({failure_reason(error)})"
    return "Slack did not answer"


class CountingWebClient(AsyncWebClient):
    """The SDK's client, counting calls that failed after their retries by method and error
    (every named method, `files_upload_v2`'s steps included, goes through `api_call`)."""

    def __init__(self, *, metrics: Metrics, **options: Any) -> None:
        super().__init__(**options)
        self._metrics = metrics

    async def _request(
        self, *, http_verb: str, api_url: str, req_args: dict[str, Any]
    ) -> dict[str, Any]:
        # The SDK applies its timeout only to a session it opens itself, and the bot shares one:
        # a call Slack never answered waited aiohttp's default (five minutes). Each attempt
        # (the retries reuse these arguments) now gives up after the client's timeout.
        req_args.setdefault("timeout", aiohttp.ClientTimeout(total=self.timeout))
        answer: dict[str, Any] = await super()._request(
            http_verb=http_verb, api_url=api_url, req_args=req_args
        )
        return answer

    async def api_call(self, api_method: str, **options: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **options)
        except SlackApiError as error:
            label = slack_error_label(error.response.get("error"))
            self._metrics.slack_api_errors.labels(api_method, label).inc()
            raise
        except UNANSWERED:
            self._metrics.slack_api_errors.labels(api_method, "unreachable").inc()
            raise


def build_slack_client(
    settings: Settings,
    session: aiohttp.ClientSession,
    metrics: Metrics | None = None,
    *,
    timeout: float = TIMEOUT_SECONDS,
) -> AsyncWebClient:
    """One pooled aiohttp session serves every call (the SDK default opens one per call)."""
    base_url = settings.slack_api_url or AsyncWebClient.BASE_URL
    return CountingWebClient(
        metrics=metrics or Metrics(),
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url.rstrip("/") + "/",
        timeout=timeout,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=SLACK_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
