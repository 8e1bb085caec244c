"""A revocation of 2,000 users (100 without a grant) through the running bot, beside a grant run
of the same users on the same bot as the baseline.

    python -m benchmarks.revoke_run [--users 2000] [--without 100] [--rps 150] [--limit 200]
                                    [--all-credentials]

--all-credentials: half the grants are moved to a second (Microsoft) credential and the
revocation is "All credentials" (one run across both, each grant deleted by its own id).

The fake Nylas answers 429 above --limit requests per second; the bot is configured for --rps.
Printed for each run: Nylas calls, seconds from approval to the CSV, calls per second achieved
against the configured rate, and 429s met. Exit 1 when a grant is left or a 429 was met.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fakes_settings import bench_settings
from tests.conftest import ADMIN, NYLAS_API_KEY, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import approval_request, confirm, plan, seed_credential, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, users
from tests.runs.test_revoke import ANN, BOB, revoke_plan
from tests.slack_ui import Person


async def measure(
    count: int, without: int, rps: int, limit: int, workdir: Path, *, across: bool = False
) -> bool:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY, rate_limit_per_second=limit)
    for user, name in ((ADMIN, "Ada"), (ANN, "Ann"), (BOB, "Bob")):
        slack.add_user(user, name)
    await slack.start()
    await nylas.start()
    settings = bench_settings(
        slack,
        nylas,
        workdir,
        **RUN_SETTINGS,
        bulkauth_max_users=max(5000, count),
        bulkauth_admins=[ADMIN, ANN, BOB],
        bulkauth_nylas_rps=rps,
    )
    try:
        async with run_bot(settings) as bot:
            credential = await seed_credential(bot, nylas)
            started = time.monotonic()
            await confirm(bot, await plan(bot, slack, credential, users(count - without)))
            await wait_for_csv(slack, count=1)
            grant_seconds = time.monotonic() - started
            grant_calls = len(nylas.calls("POST", "/v3/connect/custom"))
            grant_429 = nylas.throttled
            label = "acme.com (Google)"
            if across:  # every other grant belongs to a Microsoft credential
                microsoft = await seed_credential(
                    bot, nylas, provider="microsoft", name="contoso.com"
                )
                for grant in list(nylas.grants.values())[::2]:
                    grant.update(provider="microsoft", credential_id=microsoft.nylas_credential_id)
                label = "All credentials"
            shown = await revoke_plan(bot, slack, label, users(count))
            await confirm(bot, shown)
            request = await approval_request(slack, bot)
            await Person(bot, slack, ANN).click(request, "Approve")
            started = time.monotonic()
            await Person(bot, slack, BOB).click(request, "Approve")
            await wait_for_csv(slack, count=2)
            revoke_seconds = time.monotonic() - started
            deletes = len(nylas.calls("DELETE", r"/v3/grants/.*"))
            revoke_429 = nylas.throttled - grant_429
    finally:
        await nylas.stop()
        await slack.stop()
    print(f"configured {rps}/s, fake Nylas limit {limit}/s")
    print(
        f"baseline grant run:  {grant_calls} custom-auth calls in {grant_seconds:.1f} s = "
        f"{grant_calls / grant_seconds:.1f}/s, 429s {grant_429}"
    )
    print(
        ("revocation (all):    " if across else "revocation:          ")
        + f"{deletes} DELETEs in {revoke_seconds:.1f} s = "
        f"{deletes / revoke_seconds:.1f}/s, 429s {revoke_429}, grants left {len(nylas.grants)}"
    )
    return not nylas.grants and revoke_429 == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--without", type=int, default=100)
    parser.add_argument("--rps", type=int, default=150)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--all-credentials", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkauth-revoke-") as folder:
        healthy = asyncio.run(
            measure(
                args.users,
                args.without,
                args.rps,
                args.limit,
                Path(folder),
                across=args.all_credentials,
            )
        )
    print("OK" if healthy else "FAILED")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
