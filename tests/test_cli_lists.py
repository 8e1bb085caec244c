"""`bulkauth audit list` and `bulkauth runs list` as processes, reading the database the
running bot writes."""

from __future__ import annotations

import getpass
from pathlib import Path

from tests.cli import run_cli
from tests.conftest import RunningBot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import start_run, wait_for_csv


async def finished_run(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas) -> None:
    await start_run(bot, slack, nylas, "ann@acme.com\nbob@acme.com")
    await wait_for_csv(slack)
    await bot.settled()


async def test_audit_list_takes_the_same_filters_as_slack(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    engine = bot.deps.database
    code, out, err = await run_cli(engine, "audit", "list", "ann@acme.com", cwd=tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["seq", "time", "(UTC)", "actor", "action", "outcome", "subject"]
    assert "U0ADMIN (Ada Admin)" in lines[1] and "grant.created" in lines[1]
    assert "email=ann@acme.com run=1 credential=cred-google-acme.com grant=" in lines[1]
    assert lines[-1] == "1 of 1 matching events"

    code, out, _ = await run_cli(engine, "audit", "list", "acme.com", "--limit", "3", cwd=tmp_path)
    assert code == 0 and out.splitlines()[-1] == "3 of 6 matching events"  # 4 run events, 2 grants
    assert "run.finished" in out.splitlines()[1]  # newest first

    code, out, _ = await run_cli(engine, "audit", "list", "run 1", cwd=tmp_path)
    assert code == 0 and "6 of 6 matching events" in out

    code, _, err = await run_cli(engine, "audit", "list", "nosuch", cwd=tmp_path)
    assert code == 2 and "No credential is named 'nosuch'" in err

    me = f"cli:{getpass.getuser()}"
    code, out, _ = await run_cli(engine, "audit", "list", me, cwd=tmp_path)
    assert code == 0 and out.count("audit.queried") == 3  # each CLI search is audited
    assert out.splitlines()[-1] == "3 of 3 matching events"


async def test_runs_list_shows_live_counts_and_filters_by_status(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    code, out, err = await run_cli(bot.deps.database, "runs", "list", cwd=tmp_path)
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split()[:10] == [
        "run",
        "status",
        "credential",
        "users",
        "created",
        "reauth",
        "skipped",
        "failed",
        "revoked",
        "left",
    ]
    assert row.split()[:10] == ["1", "finished", "acme.com", "2", "2", "0", "0", "0", "0", "0"]
    assert "U0ADMIN (Ada Admin)" in row
    code, out, _ = await run_cli(
        bot.deps.database, "runs", "list", "--status", "running", cwd=tmp_path
    )
    assert code == 0 and len(out.splitlines()) == 1  # the header only
    code, _, err = await run_cli(
        bot.deps.database, "runs", "list", "--status", "nope", cwd=tmp_path
    )
    assert code == 2 and "'nope' is not one of" in err
