"""`bulkauth runs list|csv`: bulk runs from a terminal."""

from __future__ import annotations

import sys

import click

from bot.cli.common import with_sessions
from bot.cli.tables import run_table
from bot.runs.report import write_run_csv
from storage.credentials import list_credentials
from storage.db import Sessions
from storage.models import RunStatus
from storage.runs import get_run, item_counts_of_runs, list_runs


@click.group()
def runs() -> None:
    """Bulk runs."""


@runs.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice([s.value for s in RunStatus])
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def runs_list(statuses: tuple[str, ...], limit: int) -> None:
    """The newest runs with their live counts, newest first."""

    async def listing(sessions: Sessions) -> list[str]:
        async with sessions() as session:
            found = await list_runs(session=session, statuses=statuses, limit=limit)
            counts = await item_counts_of_runs(
                session=session, run_ids=[run.id for run in found if run.id is not None]
            )
            names = {c.id: c.name for c in await list_credentials(session=session)}
        return run_table(found, counts, names)

    for line in with_sessions(listing):
        click.echo(line)


@runs.command("csv")
@click.argument("run_id", type=int)
def runs_csv(run_id: int) -> None:
    """Every user's outcome of one run as CSV on stdout (the file its summary links to)."""

    async def writing(sessions: Sessions) -> bool:
        async with sessions() as session:
            if await get_run(session=session, run_id=run_id) is None:
                return False
            await write_run_csv(session, run_id, sys.stdout)
        return True

    if not with_sessions(writing):
        click.echo(f"bulkauth: there is no run {run_id}", err=True)
        sys.exit(2)
