"""Issue 13 item 4: a run's CSV survives Slack refusing its upload."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import start_run, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, csv_rows, users
from tests.slack_ui import Person

CUSTOM_AUTH = "/v3/connect/custom"


def is_summary(call: SlackCall) -> bool:
    return "Run 1 finished" in call.text_blob()


async def test_the_csv_arrives_after_six_rate_limited_upload_requests(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    slack.fail_next("files.getUploadURLExternal", status=429, retry_after=1, times=6)
    await start_run(bot, slack, nylas, users(5))
    report = await asyncio.wait_for(wait_for_csv(slack), timeout=60)
    assert Counter(row["outcome"] for row in csv_rows(report).values()) == {"created": 5}
    assert len(slack.calls_to("files.getUploadURLExternal")) == 7
    [summary] = await slack.wait_for("chat.update", is_summary)
    assert "could not be sent" not in summary.text_blob()


async def test_a_refused_csv_can_be_sent_again_or_written_from_the_database(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    settings = make_settings(**RUN_SETTINGS, bulkauth_upload_attempts=2)
    async with run_bot(settings) as bot:
        slack.fail_next("files.getUploadURLExternal", status=200, error="internal_error", times=2)
        await start_run(bot, slack, nylas, users(5))
        [summary] = await slack.wait_for(
            "chat.update", lambda c: is_summary(c) and "could not be sent" in c.text_blob()
        )
        assert "could not be sent to Slack" in summary.text_blob()
        assert "bulkauth runs csv 1" in summary.text_blob()
        assert slack.calls_to("files.completeUploadExternal") == []
        [progress] = [c for c in slack.calls_to("chat.postMessage") if "Run 1" in c.text_blob()]

        code, out, err = await run_cli(bot.deps.database, "runs", "csv", "1", cwd=tmp_path)
        assert code == 0, err
        assert Counter(row["outcome"] for row in csv_rows(out).values()) == {"created": 5}

        await Person(bot, slack, OUTSIDER).click(progress, "Send CSV again")
        await bot.settled()
        assert slack.calls_to("files.completeUploadExternal") == []  # not for outsiders

        await Person(bot, slack, ADMIN).click(progress, "Send CSV again")
        report = await asyncio.wait_for(wait_for_csv(slack), timeout=30)
        await bot.settled()
    assert report.replace("\r\n", "\n") == out.replace("\r\n", "\n")
    [upload] = [u for u in slack.uploads.values() if u.content]
    assert upload.thread_ts == summary.params["ts"]  # in the run's thread
    final = [c for c in slack.calls_to("chat.update") if is_summary(c)][-1]
    assert "could not be sent" not in final.text_blob() and "send_run_csv" not in final.text_blob()


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_summary_slack_did_not_take_still_comes_with_the_csv(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """The summary's edit was refused, or never answered (the connection dropped, and the
    client's retries too): the CSV is sent all the same, and the summary is shown after it.
    Unanswered, the run's end stopped there (no summary, no CSV); refused, the progress message
    kept saying the run was under way."""
    # One progress edit as the run starts; the next would be due only after its end.
    settings = make_settings(**{**RUN_SETTINGS, "bulkauth_progress_interval_seconds": 60})
    async with run_bot(settings) as bot:
        nylas.hold(CUSTOM_AUTH, after=0)
        await start_run(bot, slack, nylas, users(3))
        [running] = await slack.wait_for("chat.update", lambda c: "Run 1" in c.text_blob())
        await slack.answer_of(running)
        if failure == "refused":
            slack.fail_next("chat.update", status=200, error="internal_error", retry_after=None)
        else:
            slack.drop_next("chat.update", times=3)  # the call and the client's two retries
        nylas.release()
        report = await wait_for_csv(slack)
        await slack.wait_for("chat.update", lambda c: is_summary(c) and c.response is not None)
        await bot.settled()
    assert Counter(row["outcome"] for row in csv_rows(report).values()) == {"created": 3}
    shown = slack.messages[(running.params["channel"], running.params["ts"])]
    assert "Run 1 finished" in json.dumps(shown)
    assert "could not be sent" not in json.dumps(shown)


async def test_runs_csv_refuses_an_unknown_run(bot: RunningBot, tmp_path: Path) -> None:
    code, out, err = await run_cli(bot.deps.database, "runs", "csv", "42", cwd=tmp_path)
    assert (code, out) == (2, "") and "no run 42" in err
