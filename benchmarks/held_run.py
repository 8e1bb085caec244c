"""A 10,000-user Google run whose credential lacks domain-wide delegation, through the running
bot: how many custom-auth calls it makes before it is held, how long until the hold shows, and
then, after the delegation is "added" in the fake, Resume to the end.

    python -m benchmarks.held_run [--users 10000]

Baseline beside it: without the canary every user would be sent (calls = users) and fail alike.
Exit 1 when the run made more than 3 calls before the hold or Resume left failures.
(tests/runs/test_holds.py runs the same with 1,000 users.)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.fakes_settings import bench_settings
from tests.conftest import ADMIN, NYLAS_API_KEY, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import confirm, plan, seed_credential, wait_for_csv
from tests.runs.conftest import RUN_SETTINGS, csv_rows, users
from tests.runs.test_holds import held_message, progress_message
from tests.slack_ui import Person


async def measure(count: int, workdir: Path) -> tuple[int, float, Counter[str], float]:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    slack.add_user(ADMIN, "Ada Admin")
    await slack.start()
    await nylas.start()
    settings = bench_settings(
        slack,
        nylas,
        workdir,
        bulkauth_max_users=max(count, 50_000),
        bulkauth_nylas_rps=500,  # the fake has no rate limit: measure the bot, not the pacing
        bulkauth_nylas_concurrency=32,
        **RUN_SETTINGS,
    )
    try:
        async with run_bot(settings) as bot:
            credential = await seed_credential(bot, nylas)
            nylas.delegation_missing.add(credential.nylas_credential_id)
            await confirm(bot, await plan(bot, slack, credential, users(count)))
            started = time.monotonic()
            await held_message(slack)
            to_hold = time.monotonic() - started
            await bot.settled()
            calls = len(nylas.calls("POST", "/v3/connect/custom"))
            nylas.delegation_missing.clear()
            resumed = time.monotonic()
            await Person(bot, slack, ADMIN).click(await progress_message(slack), "Resume")
            await slack.wait_for("files.completeUploadExternal", timeout=1200)
            rows = csv_rows(await wait_for_csv(slack))
            to_end = time.monotonic() - resumed
            return calls, to_hold, Counter(row["outcome"] for row in rows.values()), to_end
    finally:
        await nylas.stop()
        await slack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkauth-held-") as folder:
        calls, to_hold, outcomes, to_end = asyncio.run(measure(args.users, Path(folder)))
    print(f"users {args.users:,}: custom-auth calls before the hold {calls} (baseline without a")
    print(f"  canary: {args.users:,}), held {to_hold:.2f} s after confirming")
    print(f"after Resume: {dict(outcomes)} in {to_end:.1f} s")
    healthy = calls <= 3 and outcomes == Counter(created=args.users)
    print("OK" if healthy else "FAILED")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
