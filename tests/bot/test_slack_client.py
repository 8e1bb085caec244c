"""The Slack Web API client as the bot builds it, against the fake Slack."""

from __future__ import annotations

import aiohttp
import pytest

from bot.slack.client import UNANSWERED, build_slack_client
from tests.conftest import SettingsFactory
from tests.fakes.slack import FakeSlack


async def test_a_call_slack_does_not_answer_gives_up_after_the_clients_timeout(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    """The SDK applies its timeout only to a session it opens itself, and the bot shares one
    session for all its Slack calls: a call Slack never answered waited aiohttp's default, five
    minutes, and held whatever waited for it (an alert's claim, a reminder, a shutdown). Each
    attempt now gives up after the client's timeout, as a call that got no answer."""
    slack.latency["chat.postMessage"] = 3.0  # Slack hangs
    async with aiohttp.ClientSession() as http:
        client = build_slack_client(make_settings(), http, timeout=0.5)
        with pytest.raises(UNANSWERED):
            await client.chat_postMessage(channel="C0OPS", text="hello")
        slack.latency.clear()
        assert (await client.chat_postMessage(channel="C0OPS", text="hello"))["ok"]
