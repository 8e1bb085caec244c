"""A 2,000-user run through the running bot while everything around it fails at random.

    python -m benchmarks.run_faults [--users 2000] [--rate 0.1] [--seed N]

Nylas answers a share (--rate) of custom-auth calls with a 5xx, a hang past the timeout, a
dropped connection after making the grant, 200 with HTML or 201 without an id; a share of the
recorder's database writes raises OperationalError; Slack answers 429 to progress edits, the
CSV upload and DMs. Printed: whether the run finished by itself, its outcomes, every grant at
the fake Nylas audited exactly once, users left in progress, and the faults met. Exit 1 when an
expectation fails. (tests/runs/test_chaos.py runs the same with 300 users.)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

from benchmarks.fakes_settings import bench_settings
from tests.conftest import ADMIN, NYLAS_API_KEY, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.runs.chaos import CHAOS_SETTINGS, ChaosReport, chaotic_run


async def measure(count: int, rate: float, seed: int, workdir: Path) -> ChaosReport:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    slack.add_user(ADMIN, "Ada Admin")
    await slack.start()
    await nylas.start()
    settings = bench_settings(slack, nylas, workdir, **CHAOS_SETTINGS)
    try:
        async with run_bot(settings) as bot:
            return await chaotic_run(bot, slack, nylas, count=count, seed=seed, rate=rate)
    finally:
        await nylas.stop()
        await slack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkauth-faults-") as folder:
        report = asyncio.run(measure(args.users, args.rate, args.seed, Path(folder)))
    print(report.line())
    healthy = (
        report.run_status == "finished"
        and report.stuck == 0
        and not report.not_audited_once
        and sum(report.outcomes.values()) == args.users
    )
    print("OK" if healthy else f"FAILED (rerun with --seed {args.seed})")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
