"""A re-authentication run through the running bot (`/bulkauth health` → **Re-authenticate** →
plan → Start run), alone and then with the health sweep listing a large number of invalid grants
of another credential at the same time: the run's rate with and without the sweep, and the
sweep's pages per second. The sweep is capped at a tenth of the shared rate, so the run should
keep about nine tenths of it.

    python -m benchmarks.reauth_sweep [--users 2000] [--swept 10000] [--rps 100]

Baseline beside it: the same run alone. Exit 1 when the run with the sweep got less than 80 %
of its rate alone, or a grant id changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fakes_settings import bench_settings
from storage.models import utcnow
from tests.conftest import ADMIN, NYLAS_API_KEY, RunningBot, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import seed_credential, wait_for_csv
from tests.health.test_reauthentication import ask_health, invalid_grants, open_plan
from tests.runs.conftest import RUN_SETTINGS, csv_rows


async def timed_sweep(bot: RunningBot) -> float:
    started = time.monotonic()
    await bot.deps.sweep.sweep(utcnow())
    return time.monotonic() - started


async def one_run(users: int, swept: int, rps: float, workdir: Path) -> tuple[float, float, bool]:
    """(run calls per second, sweep pages per second or 0, every grant id unchanged)."""
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    slack.add_user(ADMIN, "Ada Admin")
    await slack.start()
    await nylas.start()
    settings = bench_settings(
        slack, nylas, workdir, bulkauth_nylas_rps=rps, bulkauth_nylas_concurrency=32, **RUN_SETTINGS
    )
    try:
        async with run_bot(settings) as bot:
            credential = await seed_credential(bot, nylas)
            ids = invalid_grants(nylas, credential, users)
            answer = await ask_health(bot, slack, "acme.com")
            plan = await open_plan(bot, slack, answer, f"Re-authenticate {users:,} invalid grants")
            plan.type("Reason", "benchmark")
            if swept:  # another customer's grants went invalid meanwhile
                other = await seed_credential(bot, nylas, name="other.example")
                invalid_grants(nylas, other, swept, domain="other.example")
            pages_before = len(nylas.calls("GET", "/v3/grants"))
            started = time.monotonic()
            await plan.submit()
            sweeping = asyncio.create_task(timed_sweep(bot)) if swept else None
            rows = csv_rows(await wait_for_csv(slack))
            run_rate = users / (time.monotonic() - started)
            page_rate = 0.0
            if sweeping is not None:
                took = await sweeping
                pages = len(nylas.calls("GET", "/v3/grants")) - pages_before
                page_rate = pages / took
            same = {email: row["grant_id"] for email, row in rows.items()} == ids
            return run_rate, page_rate, same
    finally:
        await nylas.stop()
        await slack.stop()


async def measured(users: int, swept: int, rps: float, workdir: Path) -> tuple[float, float, bool]:
    """One run; tasks left behind are named on stderr (one run of this script, under heavy load
    from other processes, once hung in asyncio.run's clean-up after a finished run)."""
    result = await one_run(users, swept, rps, workdir)
    left = asyncio.all_tasks() - {asyncio.current_task()}
    for task in left:
        print(f"left behind: {task.get_name()} {task.get_coro()}", file=sys.stderr)
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=5)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--swept", type=int, default=10_000)
    parser.add_argument("--rps", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkauth-reauth-") as folder:
        alone, _pages, same_alone = asyncio.run(measured(args.users, 0, args.rps, Path(folder)))
    with tempfile.TemporaryDirectory(prefix="bulkauth-reauth-") as folder:
        shared, pages, same_shared = asyncio.run(
            measured(args.users, args.swept, args.rps, Path(folder))
        )
    print(f"re-authentication of {args.users:,} grants at BULKAUTH_NYLAS_RPS={args.rps:g}:")
    print(f"  alone (baseline):                    {alone:6.1f} calls/s")
    print(
        f"  during a sweep of {args.swept:,} invalid grants: {shared:6.1f} calls/s "
        f"({shared / alone:.0%} of alone); sweep {pages:.1f} pages/s"
    )
    print(f"  every grant id unchanged: {same_alone and same_shared}")
    healthy = same_alone and same_shared and shared >= 0.8 * alone
    print("OK" if healthy else "FAILED")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
