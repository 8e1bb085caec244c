"""`/bulkauth` through the running bot's HTTP endpoint and through Socket Mode dispatch."""

from __future__ import annotations

import json
import time

from slack_bolt.request.async_request import AsyncBoltRequest

from storage.audit import latest_events
from tests.conftest import ADMIN, OUTSIDER, RunningBot, run_bot
from tests.fakes.slack import FakeSlack
from tests.slack_requests import form_body, signed_headers, slash_command


async def test_help_lists_every_command_when_an_admin_asks(bot: RunningBot) -> None:
    response = await bot.command(slash_command("help", user_id=ADMIN))
    assert response.status == 200
    answer = json.loads(await response.text())
    assert answer["response_type"] == "ephemeral"
    for usage in (
        "credential google",
        "credential microsoft",
        "credentials",
        "consent",
        "grants",
        "audit",
        "status",
        "help",
    ):
        assert f"/bulkauth {usage}" in answer["text"]


async def test_empty_command_answers_with_help(bot: RunningBot) -> None:
    response = await bot.command(slash_command("", user_id=ADMIN))
    assert "/bulkauth credential google" in json.loads(await response.text())["text"]


async def test_unknown_subcommand_says_what_was_not_understood(bot: RunningBot) -> None:
    response = await bot.command(slash_command("frobnicate <!channel>", user_id=ADMIN))
    text = json.loads(await response.text())["text"]
    assert text.startswith("Sorry, I did not understand `frobnicate &lt;!channel&gt;`")
    assert "/bulkauth grants" in text


async def test_outsider_is_refused_and_nothing_else_happens(
    bot: RunningBot, slack: FakeSlack
) -> None:
    before = {call.method for call in slack.calls}
    response = await bot.command(slash_command("help", user_id=OUTSIDER))
    answer = json.loads(await response.text())
    assert answer["response_type"] == "ephemeral"
    assert "not allowed" in answer["text"]
    assert "/bulkauth grants" not in answer["text"]
    new_methods = {call.method for call in slack.calls} - before
    assert new_methods <= {"auth.test", "users.info"}
    async with bot.deps.sessions() as session:
        [event] = await latest_events(session=session)
    assert (event.action, event.actor_id, event.actor_name, event.outcome) == (
        "access.denied",
        OUTSIDER,
        "Oscar Outsider",
        "refused",
    )


async def test_bad_signature_is_rejected_with_401(bot: RunningBot, slack: FakeSlack) -> None:
    body = form_body(slash_command("help", user_id=ADMIN))
    headers = signed_headers(body, secret="not-the-signing-secret")
    response = await bot.post_signed(body, headers=headers)
    assert response.status == 401
    assert slack.calls_to("users.info") == []


async def test_missing_or_stale_signature_is_rejected(bot: RunningBot) -> None:
    body = form_body(slash_command("help", user_id=ADMIN))
    stale = signed_headers(body, timestamp=int(time.time()) - 600)
    assert (await bot.post_signed(body, headers=stale)).status == 401
    unsigned = {"content-type": "application/x-www-form-urlencoded"}
    assert (await bot.post_signed(body, headers=unsigned)).status == 401


async def test_workspace_admin_is_allowed_when_no_admin_list_is_set(
    make_settings, slack: FakeSlack
) -> None:
    slack.add_user("U0WSADMIN", "Wanda Workspace", admin=True)
    async with run_bot(make_settings(bulkauth_admins=[])) as running:
        allowed = await running.command(slash_command("help", user_id="U0WSADMIN"))
        refused = await running.command(slash_command("help", user_id=ADMIN))
    assert "/bulkauth grants" in json.loads(await allowed.text())["text"]
    assert "not allowed" in json.loads(await refused.text())["text"]


async def test_socket_mode_dispatch_answers_help(bot: RunningBot) -> None:
    request = AsyncBoltRequest(
        body=form_body(slash_command("help", user_id=ADMIN)), mode="socket_mode"
    )
    response = await bot.app.async_dispatch(request)
    assert response.status == 200
    assert "/bulkauth credentials" in json.loads(response.body)["text"]
