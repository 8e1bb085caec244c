"""Acks while someone plans a run for a large user list, against acks of an idle bot.

    python -m benchmarks.ack_while_planning [--users 50000] [--commands 100]

One person submits the grants modal with a CSV of --users addresses (Slack's Users field takes
3,000 characters, so a list this long comes as a file); meanwhile other people send --commands
signed `/bulkauth help` commands, spread over the time the submission and its plan take. Each
ack is timed; the same commands against the idle bot are the baseline. Slack wants every ack
within 3 s; the goal is a p99 under 300 ms while the list is read, parsed and folded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.fakes_settings import bench_settings
from bot.logs import Redactor
from tests.conftest import ADMIN, NYLAS_API_KEY, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import fill_request, open_request, seed_credential
from tests.slack_requests import slash_command
from tests.slack_ui import Person


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, round(0.99 * len(ordered)) - 1)]


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms, p99 {p99(times) * 1000:6.1f} ms, "
        f"worst {ordered[-1] * 1000:6.1f} ms"
    )


async def timed_commands(person: Person, count: int, spread_seconds: float) -> list[float]:
    """`count` help commands, started evenly over `spread_seconds`, each timed to its ack."""

    async def one(delay: float) -> float:
        await asyncio.sleep(delay)
        began = time.monotonic()
        response = await person.bot.command(slash_command("help", user_id=person.user_id))
        assert response.status == 200
        return time.monotonic() - began

    step = spread_seconds / count
    return list(await asyncio.gather(*(one(index * step) for index in range(count))))


async def main(users: int, commands: int) -> None:
    slack, nylas = FakeSlack(), FakeNylas(api_key=NYLAS_API_KEY)
    await slack.start()
    await nylas.start()
    slack.add_user(ADMIN, "Bench")
    content = "email\n" + "".join(f"person.number{i}@acme.example.com\n" for i in range(users))
    with tempfile.TemporaryDirectory() as workdir:
        settings = bench_settings(
            slack,
            nylas,
            Path(workdir),
            bulkauth_audit_key="bench-audit-key-0123456789abcdef0123",
            bulkauth_max_users=users,
        )
        async with run_bot(settings, redactor=Redactor()) as bot:
            person = Person(bot, slack, ADMIN)
            credential = await seed_credential(bot, nylas)
            idle = await timed_commands(person, commands, spread_seconds=2.0)

            modal = await open_request(person, credential)
            upload = slack.host_file(content.encode(), filename="everyone.csv")
            fill_request(modal, upload=upload)
            began = time.monotonic()

            async def plan() -> tuple[float, float]:
                submitted = await modal.submit()
                acked = time.monotonic() - began
                assert submitted.ack.get("response_action") == "update", submitted.ack
                await modal.wait_for("Dry run", timeout=120)
                return acked, time.monotonic() - began

            planning = asyncio.create_task(plan())
            busy = await timed_commands(person, commands, spread_seconds=2.0)
            submission_ack, plan_ready = await planning
    await slack.stop()
    await nylas.stop()
    print(f"{users:,} users in a {len(content) / 1e6:.1f} MB CSV; {commands} help commands")
    print(f"  idle bot:                 {summary(idle)}")
    print(f"  while the list is planned: {summary(busy)}")
    print(f"  p99 while planning / idle: {p99(busy) / p99(idle):.1f}x (target: p99 < 300 ms)")
    print(f"  the submission's own ack: {submission_ack * 1000:.0f} ms (Slack's limit: 3,000 ms)")
    print(f"  plan shown after:         {plan_ready:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--commands", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.users, arguments.commands))
