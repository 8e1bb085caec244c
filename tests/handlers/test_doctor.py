"""`/bulkauth doctor` and `bulkauth doctor`: each check failing and passing, never a secret."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storage.models import CredentialRecord
from tests.cli import run_cli
from tests.conftest import ADMIN, BOT_TOKEN, NYLAS_API_KEY, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import seed_credential
from tests.records import consent_record
from tests.slack_ui import Person


async def doctor(bot: RunningBot, slack: FakeSlack, text_: str = "") -> str:
    """The checklist as the person sees it (answered through the response URL)."""
    before = len(slack.calls_to("response_url"))
    response = await Person(bot, slack, ADMIN).command(f"doctor {text_}".strip())
    assert response.status == 200 and "Checking" in await response.text()
    answers = await slack.wait_for(
        "response_url", lambda c: "bulkauth doctor" in c.text_blob(), count=before + 1
    )
    return str(answers[-1].params["text"]) + "\n" + json.dumps(answers[-1].params["blocks"])


def line_of(checklist: str, name: str) -> str:
    blocks = json.loads(checklist.split("\n", 1)[1])
    lines = blocks[0]["text"]["text"].split("\n")
    return next(
        line + next_line
        for line, next_line in zip(lines, [*lines[1:], ""], strict=True)
        if f"*{name}*" in line
    )


async def test_a_healthy_setup_passes_and_no_secret_is_shown(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    await seed_credential(bot, nylas)
    checklist = await doctor(bot, slack)
    for name in (
        "Slack bot token and scopes",
        "Nylas API key and region",
        "Database",
        "Migrations",
        "acme.com: at Nylas",
    ):
        assert ":white_check_mark:" in line_of(checklist, name), name
    assert BOT_TOKEN not in checklist and NYLAS_API_KEY not in checklist


async def test_missing_scopes_fail_with_the_fix(bot: RunningBot, slack: FakeSlack) -> None:
    slack.granted_scopes = tuple(s for s in slack.granted_scopes if s != "usergroups:read")
    line = line_of(await doctor(bot, slack), "Slack bot token and scopes")
    assert ":x:" in line and "missing scopes: usergroups:read" in line and "reinstall" in line


async def test_a_refused_nylas_key_fails(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.api_key = "a-rotated-key"  # the bot's key no longer works
    line = line_of(await doctor(bot, slack), "Nylas API key and region")
    assert ":x:" in line and "NYLAS_REGION" in line


async def test_a_missing_connector_warns(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    del nylas.connectors["microsoft"]
    checklist = await doctor(bot, slack)
    assert ":warning:" in line_of(checklist, "Microsoft connector")
    assert ":white_check_mark:" in line_of(checklist, "Google connector")


async def test_a_credential_deleted_at_nylas_fails(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    record = await seed_credential(bot, nylas)
    del nylas.credentials[record.nylas_credential_id]
    line = line_of(await doctor(bot, slack, "acme.com"), "acme.com: at Nylas")
    assert ":x:" in line and "register it again" in line


@pytest.mark.parametrize(
    ("public_url", "mark"),
    [(None, ":warning:"), ("http://127.0.0.1:1", ":x:"), ("own", ":white_check_mark:")],
)
async def test_the_callback_url_is_checked(
    make_settings: SettingsFactory, slack: FakeSlack, public_url: str | None, mark: str
) -> None:
    async with run_bot(make_settings()) as bot:
        url = bot.url if public_url == "own" else public_url
        object.__setattr__(bot.deps.settings, "public_base_url", url)
        line = line_of(await doctor(bot, slack), "Consent callback URL")
    assert mark in line, line


async def _microsoft(bot: RunningBot, nylas: FakeNylas, **changes: Any) -> CredentialRecord:
    record = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    async with bot.deps.sessions() as session:
        stored = await session.get(CredentialRecord, record.id)
        assert stored is not None
        for key, value in changes.items():
            setattr(stored, key, value)
        session.add(stored)
        await session.commit()
    return record


@pytest.mark.parametrize(
    ("expires", "mark"),
    [(-2, ":x:"), (10, ":warning:"), (400, ":white_check_mark:"), (None, ":warning:")],
)
async def test_client_secret_expiry(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, expires: int | None, mark: str
) -> None:
    when = date.today() + timedelta(days=expires) if expires is not None else None
    await _microsoft(bot, nylas, secret_expires_on=when, uses_connector_app=False)
    assert mark in line_of(await doctor(bot, slack), "contoso.com: client secret")


async def test_consent_state(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas) -> None:
    record = await _microsoft(bot, nylas)
    assert ":warning:" in line_of(await doctor(bot, slack), "contoso.com: admin consent")
    async with bot.deps.sessions() as session:
        session.add(consent_record(record.id))
        await session.commit()
    assert ":white_check_mark:" in line_of(await doctor(bot, slack), "contoso.com: admin consent")


async def test_pending_migrations_fail(bot: RunningBot, slack: FakeSlack) -> None:
    async with bot.deps.database.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    line = line_of(await doctor(bot, slack), "Migrations")
    assert ":x:" in line and "bulkauth db upgrade" in line


async def test_the_terminal_doctor_prints_json_and_fails_on_an_unreachable_database(
    bot: RunningBot, tmp_path: Path
) -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": str(bot.deps.settings.slack_api_url),
        "SLACK_SIGNING_SECRET": "unused-here",
        "NYLAS_API_KEY": NYLAS_API_KEY,
        "NYLAS_API_URI": str(bot.deps.settings.nylas_api_uri),
    }
    code, out, err = await run_cli(bot.deps.database, "doctor", "--json", cwd=tmp_path, env=env)
    checks = {check["name"]: check for check in json.loads(out)}
    assert code == 0, err
    assert checks["Database"]["verdict"] == "pass" and checks["Migrations"]["verdict"] == "pass"
    assert BOT_TOKEN not in out + err and NYLAS_API_KEY not in out + err
    gone = {**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    code, out, _ = await run_cli(bot.deps.database, "doctor", "--json", cwd=tmp_path, env=gone)
    assert (
        code == 1
        and {"name": "Database", "verdict": "fail"}.items()
        <= next(c for c in json.loads(out) if c["name"] == "Database").items()
    )


async def test_a_failing_nylas_is_a_failed_check_not_a_crash(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.fail("GET", "/v3/connectors", status=503, times=99)  # every retry answered 503
    checklist = await doctor(bot, slack)
    assert ":x:" in line_of(checklist, "Nylas API key and region")
    assert ":white_check_mark:" in line_of(checklist, "Database")
