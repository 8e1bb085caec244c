"""The list commands' `--json` as processes: it parses, and it gives back what the database
holds; long work shows progress on stderr while stdout stays clean; `--database-url` wins over
DATABASE_URL."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import SQLModel

from storage.credentials import list_credentials
from storage.models import BulkRun, CredentialRecord, as_utc
from storage.runs import get_run
from tests.cli import run_cli
from tests.conftest import RunningBot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import run_csv_rows
from tests.test_cli_lists import finished_run


def parsed(out: str) -> Any:
    """The JSON, after checking it is one document that prints back exactly as it was read."""
    document = json.loads(out)
    assert json.dumps(document, indent=2, ensure_ascii=False) + "\n" == out
    return document


def stored_fields(record: SQLModel) -> dict[str, Any]:
    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return as_utc(value)
        return value

    return {name: plain(value) for name, value in record.model_dump().items()}


def round_trip(model: type[SQLModel], document: dict[str, Any]) -> dict[str, Any]:
    """The JSON object read back into the table's model, as the database would hand it."""
    fields = {name: document[name] for name in model.model_fields}
    return stored_fields(model.model_validate(fields))


async def test_credentials_json_reads_back_as_the_stored_records(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    code, out, err = await run_cli(bot.deps.database, "credentials", "--json", cwd=tmp_path)
    assert code == 0, err
    listed = parsed(out)
    async with bot.deps.sessions() as session:
        stored = await list_credentials(session=session)
    assert len(listed) == len(stored) == 1
    assert round_trip(CredentialRecord, listed[0]) == stored_fields(stored[0])

    code, out, _ = await run_cli(bot.deps.database, "credentials", cwd=tmp_path)
    header, row = out.splitlines()
    assert header.split()[:4] == ["id", "name", "provider", "type"]
    assert row.split()[:3] == ["1", "acme.com", "google"]

    code, out, _ = await run_cli(
        bot.deps.database, "credentials", "--provider", "microsoft", "--json", cwd=tmp_path
    )
    assert code == 0 and parsed(out) == []


async def test_runs_list_json_reads_back_and_its_counts_match_the_csv(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    code, out, err = await run_cli(bot.deps.database, "runs", "list", "--json", cwd=tmp_path)
    assert code == 0, err
    [listed] = parsed(out)
    async with bot.deps.sessions() as session:
        stored = await get_run(session=session, run_id=1)
    assert stored is not None
    assert round_trip(BulkRun, listed) == stored_fields(stored)
    assert listed["credential_name"] == "acme.com"

    code, csv_text, err = await run_cli(bot.deps.database, "runs", "csv", "1", cwd=tmp_path)
    assert code == 0
    outcomes = Counter(row["outcome"] for row in run_csv_rows(csv_text))
    assert listed["items"] == {
        "created": outcomes["created"],
        "reauthenticated": outcomes["reauthenticated"],
        "skipped": outcomes["skipped"],
        "failed": outcomes["failed"],
        "revoked": outcomes["revoked"],
        "left": 0,
    }
    assert outcomes == {"created": 2}
    assert "Writing run 1's CSV" in err and "2/2" in err  # progress on stderr, not in the CSV


async def test_audit_list_json_is_what_export_writes_newest_first(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    engine = bot.deps.database
    code, out, err = await run_cli(engine, "audit", "list", "run 1", "--json", cwd=tmp_path)
    assert code == 0, err
    listed = parsed(out)
    assert err.strip().endswith("6 of 6 matching events")

    code, exported, err = await run_cli(
        engine, "audit", "export", "--format", "jsonl", "--run", "1", cwd=tmp_path
    )
    assert code == 0
    assert listed == [json.loads(line) for line in reversed(exported.splitlines())]
    assert "Exporting audit events" in err and "6/6" in err

    code, out, err = await run_cli(engine, "audit", "verify", cwd=tmp_path)
    assert code == 0 and out.startswith("audit chain intact")
    assert "Verifying the audit chain" in err


async def test_database_url_option_wins_over_the_environment(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, tmp_path: Path
) -> None:
    await finished_run(bot, slack, nylas)
    engine = bot.deps.database
    real_url = engine.url.render_as_string(hide_password=False)
    elsewhere = {"DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere.db'}"}
    commands = [
        ["credentials", "--json"],
        ["runs", "list", "--json"],
        ["audit", "list", "--json"],
        ["audit", "verify"],
    ]
    for command in commands:
        code, _, err = await run_cli(engine, *command, cwd=tmp_path, env=elsewhere)
        assert code == 2 and "no database at" in err, command
        code, _, err = await run_cli(
            engine, *command, "--database-url", real_url, cwd=tmp_path, env=elsewhere
        )
        assert code == 0, (command, err)
    upgraded = tmp_path / "fresh.db"
    code, out, _ = await run_cli(
        engine, "db", "upgrade", "--database-url", f"sqlite:///{upgraded}", cwd=tmp_path
    )
    assert code == 0 and "applied 0001" in out and upgraded.exists()
