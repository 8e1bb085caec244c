"""A revocation of 2,000 users, 100 of whom have no grant, through a bot process killed with
SIGKILL mid-run: the plan says so, two other admins approve, the DELETEs keep within the rate
limit, the next bot finishes the run, and no grant is deleted twice except those in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any, cast

import aiohttp
from slack_bolt.async_app import AsyncApp
from sqlmodel import select

from bot.deps import Deps
from bot.server import HEALTH_PATH
from storage.models import BulkRun, ItemStatus, RunItem
from tests.conftest import ADMIN, AUDIT_KEY, RunningBot, SettingsFactory, run_bot
from tests.fakes.identity import FakeGoogle, FakeMicrosoft
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import confirm, run_csv_preamble, seed_credential, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, csv_rows, users
from tests.runs.test_revoke import ANN, BOB, approval_request, revoke_plan
from tests.slack_ui import Person
from tests.test_cli import free_port, serve_env

USERS = 2_000
WITHOUT_GRANT = 100
FAKE_LIMIT = 200  # Nylas's per-second limit, as the fake enforces it (429 beyond)
BOT_RATE = 150  # BULKAUTH_NYLAS_RPS: below the limit
KILL_AFTER = 600  # DELETEs answered before the first process is killed
DELETES = r"/v3/grants/.*"


def settings_for(make_settings: SettingsFactory) -> dict[str, Any]:
    return {
        **RUN_SETTINGS,
        "bulkauth_max_users": 5000,
        "bulkauth_admins": [ADMIN, ANN, BOB],
        "bulkauth_nylas_rps": BOT_RATE,
    }


def env_of(settings: dict[str, Any], *, database_url: str, fakes: dict[str, str]) -> dict[str, str]:
    """The same settings as environment variables, for `python -m bot serve`."""
    port = free_port()
    return serve_env(
        PORT=str(port),
        DATABASE_URL=database_url,
        BULKAUTH_AUDIT_KEY=AUDIT_KEY,
        BULKAUTH_ADMINS=",".join(settings["bulkauth_admins"]),
        BULKAUTH_MAX_USERS=str(settings["bulkauth_max_users"]),
        BULKAUTH_NYLAS_RPS=str(settings["bulkauth_nylas_rps"]),
        BULKAUTH_NYLAS_MAX_BACKOFF_SECONDS="0.05",
        **{name.upper(): str(value) for name, value in RUN_SETTINGS.items()},
        **fakes,
    )


async def healthy(
    http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    async with asyncio.timeout(60):
        while process.returncode is None:
            try:
                async with http.get(url + HEALTH_PATH) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"bot process ended with {process.returncode}")


async def test_a_revocation_survives_kill_9_losing_and_repeating_nothing_but_what_was_in_flight(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    nylas: FakeNylas,
    google: FakeGoogle,
    microsoft: FakeMicrosoft,
    tmp_path: Path,
) -> None:
    nylas.rate_limit_per_second = FAKE_LIMIT
    slack.add_user(ANN, "Ann")
    slack.add_user(BOB, "Bob")
    values = settings_for(make_settings)
    settings = make_settings(**values)
    # 1. Planned and sent for approval by one bot, which then stops (nothing is in flight).
    async with run_bot(settings) as first:
        credential = await seed_credential(first, nylas)
        grant_ids = {
            nylas.add_grant(f"user{i}@acme.com", credential_id=credential.nylas_credential_id)["id"]
            for i in range(WITHOUT_GRANT, USERS)
        }
        shown = await revoke_plan(first, slack, "acme.com (Google)", users(USERS))
        assert "1,900 have a grant of this credential: it will be deleted" in shown.text()
        assert "100 have no grant of this credential: nothing to do" in shown.text()
        assert "1,900 DELETE calls" in shown.text()
        await confirm(first, shown)
        request = await approval_request(slack, first)
    # 2. A bot process takes the approvals, starts the run and is killed with SIGKILL mid-run.
    env = env_of(
        values,
        database_url=settings.database_url,
        fakes={
            "SLACK_API_URL": f"{slack.url}/api/",
            "NYLAS_API_URI": nylas.url,
            "NYLAS_CLIENT_ID": "nylas-client-id",
            "GOOGLE_TOKEN_URL": google.token_url,
            "MICROSOFT_LOGIN_URL": microsoft.url,
        },
    )
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{env['PORT']}"
            await healthy(http, url, process)
            remote = RunningBot(url=url, deps=cast(Deps, None), app=cast(AsyncApp, None), http=http)
            await Person(remote, slack, ANN).click(request, "Approve")
            await Person(remote, slack, BOB).click(request, "Approve")
            await nylas.wait_for("DELETE", DELETES, count=KILL_AFTER, timeout=60)
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL
    deleted_before = Counter(r.path.rsplit("/", 1)[1] for r in nylas.calls("DELETE", DELETES))
    assert KILL_AFTER <= sum(deleted_before.values()) < USERS - WITHOUT_GRANT

    # 3. The next bot finds the run running, takes over the dead process's stale claims and
    # finishes it; only the users that were claimed (in flight) when it died are sent again.
    async with run_bot(settings) as second:
        async with second.deps.sessions() as session:
            in_flight = {
                item.grant_id
                for item in (await session.exec(select(RunItem))).all()
                if item.status == ItemStatus.IN_PROGRESS
            }
        report = await wait_for_csv(slack)
        await second.settled()
        async with second.deps.sessions() as session:
            run = (await session.exec(select(BulkRun))).one()
    assert run.status == "finished" and run.kind == "revoke"
    per_grant = Counter(r.path.rsplit("/", 1)[1] for r in nylas.calls("DELETE", DELETES))
    assert set(per_grant) == grant_ids and not nylas.grants  # every grant gone, none other
    repeated = {grant for grant, count in per_grant.items() if count > 1}
    assert max(per_grant.values()) <= 2
    assert repeated <= in_flight  # only what the killed process had claimed
    assert nylas.throttled == 0  # within the rate limit throughout
    outcomes = Counter(row["outcome"] for row in csv_rows(report).values())
    assert outcomes == {"revoked": USERS - WITHOUT_GRANT, "skipped": WITHOUT_GRANT}
    assert "Ann" in run_csv_preamble(report)[3] and "Bob" in run_csv_preamble(report)[3]
