"""Requests on /slack/events that Slack did not sign: 401, nothing trusted, nothing logged."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from bot.logs import Redactor, configure_logging
from tests.conftest import ADMIN, RunningBot
from tests.credential_flow import fill_google
from tests.fakes.slack import FakeSlack
from tests.keys import key_json, rsa_pem
from tests.slack_requests import form_body, payload_body, signed_headers, slash_command
from tests.slack_ui import Person

MS_SECRET = "unsigned-canary-ms-secret-5b21"


@pytest.fixture(params=["INFO", "DEBUG"])
def logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(redactor=Redactor(), level=request.param, stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


async def secret_laden_submission(bot: RunningBot, slack: FakeSlack) -> str:
    """The Google modal's submission carrying a service-account key with a client secret in
    it, form-encoded, so the key is URL-encoded in the body as Slack sends it; the
    fake Slack's record is cleared so that only what follows is seen."""
    modal = await Person(bot, slack, ADMIN).open_modal("credential google")
    fill_google(modal, pasted=key_json(rsa_pem()).replace("acme.com", MS_SECRET))
    body = payload_body(modal.submission())
    slack.calls.clear()
    return body


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-1", "99999999999999999999999"])
async def test_a_malformed_timestamp_gets_401_and_no_slack_call(
    bot: RunningBot, slack: FakeSlack, timestamp: str
) -> None:
    body = form_body(slash_command("help", user_id=ADMIN, channel_id="C0VICTIM"))
    headers = {**signed_headers(body), "x-slack-request-timestamp": timestamp}
    response = await bot.post_signed(body, headers=headers)
    await bot.settled()
    assert response.status == 401
    assert slack.calls == []


async def test_a_malformed_timestamp_on_an_interaction_reaches_nobody(
    bot: RunningBot, slack: FakeSlack
) -> None:
    body = await secret_laden_submission(bot, slack)
    headers = {**signed_headers(body), "x-slack-request-timestamp": "abc"}
    response = await bot.post_signed(body, headers=headers)
    await bot.settled()
    assert response.status == 401
    assert slack.calls == []


@pytest.mark.parametrize("fault", ["stale", "rotated secret", "no signature"])
async def test_a_failed_signature_check_logs_no_secret_of_the_body(
    logs: io.StringIO, bot: RunningBot, slack: FakeSlack, fault: str
) -> None:
    body = await secret_laden_submission(bot, slack)
    headers = {
        "stale": signed_headers(body, timestamp=int(time.time()) - 3600),
        "rotated secret": signed_headers(body, secret="the-previous-signing-secret"),
        "no signature": {"content-type": "application/x-www-form-urlencoded"},
    }[fault]
    response = await bot.post_signed(body, headers=headers)
    await bot.settled()
    assert response.status == 401
    written = logs.getvalue()
    assert MS_SECRET not in written
    assert "PRIVATE+KEY" not in written and "PRIVATE KEY" not in written
    assert "payload=" not in written  # no part of the body at all
    assert written.count("slack.request_rejected") == 1  # the rejection itself, one line
    assert slack.calls == []
