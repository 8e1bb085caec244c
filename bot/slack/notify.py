"""Telling the acting user something privately, from whatever surface they acted on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.blocks import Message
from bot.slack.client import CALL_FAILED, failure_reason

log = logging.getLogger(__name__)


def response_url_of(body: dict[str, Any]) -> str | None:
    if body.get("response_url"):
        return str(body["response_url"])
    urls = body.get("response_urls") or []
    return str(urls[0]["response_url"]) if urls else None


def channel_of(body: dict[str, Any]) -> str | None:
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    container = body.get("container") or {}
    return channel or container.get("channel_id")


async def tell_user(
    client: AsyncWebClient, *, user_id: str, message: Message, channel_id: str | None = None
) -> None:
    """Ephemeral in the channel where they acted, else a DM (views have no channel)."""
    channel = channel_id
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user_id, **message.as_kwargs())
            return
    except CALL_FAILED as error:
        # not_in_channel / channel_not_found (the bot cannot post there), or no answer: a DM
        log.info("ephemeral to %s failed (%s); sending a DM", user_id, failure_reason(error))
    await client.chat_postMessage(channel=user_id, **message.as_kwargs())


async def post_first(
    client: AsyncWebClient,
    places: Sequence[tuple[str, str | None]],
    message: Message,
    *,
    what: str,
) -> tuple[AsyncSlackResponse, str | None]:
    """Post `message` in the first of `places` (a channel, and a thread in it or None) that takes
    it; the answer and the thread it went to. A place Slack refuses, or does not answer for,
    gives way to the next; one named twice is tried once (a DM that is also the fallback). Raises
    the last place's error."""
    unique = list(dict.fromkeys(places))
    for index, (channel, thread) in enumerate(unique):
        try:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, **message.as_kwargs()
            )
            return posted, thread
        except CALL_FAILED as error:
            if index == len(unique) - 1:
                raise
            log.warning(
                "%s not posted in %s (%s): the next place", what, channel, failure_reason(error)
            )
    raise ValueError("no place to post in")
