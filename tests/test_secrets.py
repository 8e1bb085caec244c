"""Canary test: secrets entered in Slack reach Nylas's request body and nowhere else."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.logs import Redactor, configure_logging
from tests.conftest import ADMIN, RunningBot, SettingsFactory, run_bot
from tests.credential_flow import registration_outcome, submit_google, submit_microsoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.keys import canary_of, key_json, rsa_pem
from tests.slack_requests import app_home_opened, slash_command
from tests.slack_ui import Person

MS_SECRET = "canary-ms-client-secret-7f3a9c"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the process would write to stderr, at DEBUG, through the bot's own handler."""
    stream = io.StringIO()
    handler = configure_logging(redactor=REDACTOR, level="DEBUG", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


REDACTOR = Redactor()


async def dump_database(bot_deps) -> str:  # type: ignore[no-untyped-def]
    rows = []
    async with bot_deps.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            result = await connection.execute(text(f"SELECT * FROM {table.name}"))
            rows.extend(repr(tuple(row)) for row in result)
    return "\n".join(rows)


async def look_at_everything(bot: RunningBot, slack: FakeSlack) -> None:
    """What an operator would look at afterwards: audit (and its export), status, the Home."""
    for subcommand in ("audit", "status", "credentials"):
        url = slack.response_url()
        await bot.command(slash_command(subcommand, user_id=ADMIN, response_url=url))
    answers = await slack.wait_for("response_url", count=3)
    audit_answer = next(a for a in answers if "Audit log" in a.text_blob())
    await Person(bot, slack, ADMIN).click(audit_answer, "Export CSV")
    await bot.event(app_home_opened(user_id=ADMIN))
    await slack.wait_for("files.completeUploadExternal")
    await slack.wait_for("views.publish")
    await bot.settled()


async def test_private_key_and_client_secret_never_leak(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, captured_logs: io.StringIO
) -> None:
    pem = rsa_pem()
    key_canary = canary_of(pem)
    upload = slack.host_file(key_json(pem).encode(), filename="canary.json")
    async with run_bot(make_settings(), redactor=REDACTOR) as bot:
        view = await Person(bot, slack, ADMIN).open_modal("credential google")
        await submit_google(view, name="canary.com", upload=upload)
        await registration_outcome(view, "Registered")
        pasted = await Person(bot, slack, ADMIN).open_modal("credential google")
        await submit_google(pasted, name="canary-pasted.com", pasted=key_json(pem))
        await registration_outcome(pasted, "Registered")
        nylas.fail("POST", r"/v3/connectors/microsoft/creds", status=500, times=99)
        failing = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
        await submit_microsoft(failing, name="broken.com", secret=MS_SECRET)
        await registration_outcome(failing, "did not register")
        nylas.fail("POST", r"/v3/connectors/microsoft/creds", status=500, times=0)
        nylas._faults.clear()
        ms_view = await Person(bot, slack, ADMIN).open_modal("credential microsoft")
        await submit_microsoft(ms_view, secret=MS_SECRET)
        await registration_outcome(ms_view, "Registered")
        await look_at_everything(bot, slack)
        database = await dump_database(bot.deps)
        deps_repr = repr(bot.deps)

    logs = captured_logs.getvalue()
    slack_calls = "\n".join(call.text_blob() for call in slack.calls)
    files = "\n".join(upload.content.decode() for upload in slack.uploads.values())
    assert "credential.registered" in files and "canary.com" in slack_calls
    for canary in (key_canary, MS_SECRET):
        assert canary not in logs
        assert canary not in database
        assert canary not in slack_calls
        assert canary not in files
        assert canary not in deps_repr
    assert "nylas POST /v3/connectors/google/creds" in logs  # debug logging really ran
    sent = [str(record.body) for record in nylas.requests if record.method == "POST"]
    assert any(key_canary in body.replace("\\n", "") for body in sent)
    assert any(MS_SECRET in body for body in sent)
    assert "canary.com" in database
