"""Issue 19 item 7: cancel and resume from anywhere, one path: `/bulkauth status`, the App Home
and `bulkauth runs cancel|resume` (a process), for the requester, approvers and admins (the
terminal's operator), always naming who did it. A run held by its canary stays put until then."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.audit import AuditFilter, latest_events
from storage.models import BulkRun
from tests.cli import run_cli
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import confirm, plan, seed_credential, wait_for_csv
from tests.handlers.test_home import open_home
from tests.runs.conftest import RUN_SETTINGS, csv_rows, users
from tests.runs.test_holds import held_message
from tests.slack_ui import Person


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> AsyncIterator[RunningBot]:
    async with run_bot(make_settings(**RUN_SETTINGS)) as running:
        yield running


async def held_run(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, count: int = 20) -> None:
    """Run 1, held by its canary (the customer's delegation is missing)."""
    credential = await seed_credential(bot, nylas)
    nylas.delegation_missing.add(credential.nylas_credential_id)
    await confirm(bot, await plan(bot, slack, credential, users(count)))
    await held_message(slack)
    await bot.settled()


async def run_one(bot: RunningBot) -> BulkRun:
    async with bot.deps.sessions() as session:
        run = await session.get(BulkRun, 1)
        assert run is not None
        await session.refresh(run)
        return run


async def last_event(bot: RunningBot, action: str) -> object:
    async with bot.deps.sessions() as session:
        [event] = await latest_events(session=session, filters=AuditFilter(action_prefix=action))
    return event


async def status_answer(bot: RunningBot, slack: FakeSlack) -> SlackCall:
    before = len(slack.calls_to("response_url"))
    assert (await Person(bot, slack, ADMIN).command("status")).status == 200
    return (await slack.wait_for("response_url", count=before + 1))[-1]


def confirm_of(blocks: list[dict[str, object]], text: str) -> object:
    for block in blocks:
        for element in block.get("elements") or []:  # type: ignore[attr-defined]
            if element.get("text", {}).get("text") == text:
                return element.get("confirm")
    raise AssertionError(f"no button {text!r}")


async def test_a_held_run_is_resumed_from_the_status_answer_and_names_who(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await held_run(bot, slack, nylas)
    answer = await status_answer(bot, slack)
    assert confirm_of(answer.params["blocks"], "Resume run 1"), "Slack asks to confirm first"
    assert confirm_of(answer.params["blocks"], "Cancel run 1")
    nylas.delegation_missing.clear()
    assert (await Person(bot, slack, ADMIN).click(answer, "Resume run 1")).status == 200
    rows = csv_rows(await wait_for_csv(slack))
    assert Counter(row["outcome"] for row in rows.values()) == {"created": 20}
    resumed = await last_event(bot, "run.resumed")
    assert resumed.actor_id == ADMIN  # type: ignore[attr-defined]
    assert any("Run 1 was resumed" in c.text_blob() for c in slack.calls_to("chat.postEphemeral"))


async def test_a_run_is_cancelled_from_the_home_and_a_forged_click_is_refused(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await held_run(bot, slack, nylas)
    view = await open_home(bot, slack)
    assert confirm_of(view["blocks"], "Cancel run 1")
    await Person(bot, slack, OUTSIDER).home(of=ADMIN).click("Cancel run 1")
    await slack.wait_for(  # a view has no channel: the refusal is a DM
        "chat.postMessage",
        lambda c: c.params["channel"] == OUTSIDER and "may cancel" in c.text_blob(),
    )
    await bot.settled()
    assert (await run_one(bot)).status == "held"

    await Person(bot, slack, ADMIN).home().click("Cancel run 1")
    report = csv_rows(await wait_for_csv(slack))
    assert Counter(row["outcome"] for row in report.values()) == {"failed": 1, "pending": 19}
    assert (await run_one(bot)).status == "cancelled"
    cancelled = await last_event(bot, "run.cancelled")
    assert cancelled.actor_id == ADMIN  # type: ignore[attr-defined]
    assert f"cancelled by <@{ADMIN}>" in slack.calls_to("chat.update")[-1].text_blob()
    await slack.wait_for("views.publish", lambda c: "Active runs (0)" in c.text_blob())


async def test_bulkauth_runs_cancel_is_noticed_by_the_bot_which_reports_it_once(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await held_run(bot, slack, nylas)
    code, out, err = await run_cli(bot.deps.database, "runs", "cancel", "1", cwd=tmp_path)
    assert (code, out.strip()) == (0, "run 1 cancelled"), err
    report = await wait_for_csv(slack)  # the next scan claims the report and posts it
    assert Counter(row["outcome"] for row in csv_rows(report).values())["pending"] == 19
    summary = slack.calls_to("chat.update")[-1].text_blob()
    assert "cancelled by `cli:" in summary and "(terminal)" in summary
    cancelled = await last_event(bot, "run.cancelled")
    assert cancelled.actor_id.startswith("cli:")  # type: ignore[attr-defined]
    await bot.settled()
    assert len(slack.calls_to("files.completeUploadExternal")) == 1  # reported once

    code, out, err = await run_cli(bot.deps.database, "runs", "cancel", "1", cwd=tmp_path)
    assert code == 2 and "run 1 is cancelled; nothing was changed" in err
    code, out, err = await run_cli(bot.deps.database, "runs", "cancel", "42", cwd=tmp_path)
    assert code == 2 and "there is no run 42" in err


async def test_bulkauth_runs_resume_sends_the_held_users_again(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await held_run(bot, slack, nylas)
    nylas.delegation_missing.clear()
    code, out, err = await run_cli(bot.deps.database, "runs", "resume", "1", cwd=tmp_path)
    assert (code, out.strip()) == (0, "run 1 resumed"), err
    rows = csv_rows(await wait_for_csv(slack))  # the bot's scan picks the running run up
    assert Counter(row["outcome"] for row in rows.values()) == {"created": 20}
    resumed = await last_event(bot, "run.resumed")
    assert resumed.actor_id.startswith("cli:")  # type: ignore[attr-defined]
    code, out, err = await run_cli(bot.deps.database, "runs", "resume", "1", cwd=tmp_path)
    assert code == 2 and "run 1 is finished; nothing was changed" in err
