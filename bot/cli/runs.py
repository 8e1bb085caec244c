"""`bulkauth runs list|csv|cancel|resume`: bulk runs from a terminal."""

from __future__ import annotations

import sys
from collections import Counter

import click

from bot.audit.recording import cli_actor
from bot.cli.common import database_url_option, with_sessions
from bot.cli.output import json_option, print_json, print_table, progress
from bot.cli.records import run_record
from bot.cli.tables import run_table
from bot.runs import controls
from bot.runs.results import write_run_csv
from storage.credentials import list_credentials
from storage.db import Sessions
from storage.models import BulkRun, RunStatus
from storage.runs import get_run, item_counts_of_runs, list_runs


@click.group()
def runs() -> None:
    """Bulk runs."""


RunListing = tuple[list[BulkRun], dict[int, Counter[str]], dict[int | None, str]]


@runs.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice([s.value for s in RunStatus])
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@database_url_option
def runs_list(
    statuses: tuple[str, ...], limit: int, as_json: bool, database_url: str | None
) -> None:
    """The newest runs with their live counts, newest first."""

    async def listing(sessions: Sessions) -> RunListing:
        async with sessions() as session:
            found = await list_runs(session=session, statuses=statuses, limit=limit)
            counts = await item_counts_of_runs(
                session=session, run_ids=[run.id for run in found if run.id is not None]
            )
            names = {c.id: c.name for c in await list_credentials(session=session)}
        return found, dict(counts), names

    found, counts, names = with_sessions(listing, database_url=database_url)
    if as_json:
        print_json([run_record(run, counts, names) for run in found])
    else:
        print_table(run_table(found, counts, names))


@runs.command("csv")
@click.argument("run_id", type=int)
@database_url_option
def runs_csv(run_id: int, database_url: str | None) -> None:
    """Every user's outcome of one run as CSV on stdout (the file its summary links to),
    progress on stderr."""

    async def writing(sessions: Sessions) -> bool:
        async with sessions() as session:
            run = await get_run(session=session, run_id=run_id)
            if run is None:
                return False
            with progress(f"Writing run {run_id}'s CSV", run.total) as advance:
                await write_run_csv(session, run_id, sys.stdout, advance=advance)
        return True

    if not with_sessions(writing, database_url=database_url):
        click.echo(f"bulkauth: there is no run {run_id}", err=True)
        sys.exit(2)


@runs.command("cancel")
@click.argument("run_id", type=int)
@database_url_option
def runs_cancel(run_id: int, database_url: str | None) -> None:
    """Cancel a run in any active state (audited as cli:<you>). The running bot notices on its
    next scan: its workers stop sending and one replica posts the summary and the CSV."""

    async def cancelling(sessions: Sessions) -> str | None:
        done = await controls.cancel(sessions, run_id, cli_actor(), reported_here=False)
        if done is not None:
            return None
        async with sessions() as session:
            run = await get_run(session=session, run_id=run_id)
        return f"there is no run {run_id}" if run is None else f"run {run_id} is {run.status}"

    _finish(with_sessions(cancelling, database_url=database_url), f"run {run_id} cancelled")


@runs.command("resume")
@click.argument("run_id", type=int)
@database_url_option
def runs_resume(run_id: int, database_url: str | None) -> None:
    """Resume a held run (audited as cli:<you>): the users that failed for its hold's reason
    are sent again; the running bot picks it up on its next scan."""

    async def resuming(sessions: Sessions) -> str | None:
        again = await controls.resume(sessions, run_id, cli_actor())
        if again is not None:
            return None
        async with sessions() as session:
            run = await get_run(session=session, run_id=run_id)
        return f"there is no run {run_id}" if run is None else f"run {run_id} is {run.status}"

    _finish(with_sessions(resuming, database_url=database_url), f"run {run_id} resumed")


def _finish(refusal: str | None, done: str) -> None:
    if refusal is not None:
        click.echo(f"bulkauth: {refusal}; nothing was changed", err=True)
        sys.exit(2)
    click.echo(done)
