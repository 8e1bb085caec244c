"""How the command line writes: tables and JSON on stdout, progress on stderr (rich), so a
script can pipe stdout while a person still sees long work move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output is never wrapped: a script reads one row per line whatever the terminal's width.
_UNWRAPPED = 1_000_000


def _console(*, stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else _UNWRAPPED
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=not probe.is_terminal)


def print_table(table: Table, *footer: str) -> None:
    console = _console(stderr=False)
    console.print(table)
    for line in footer:
        console.print(line, markup=False)


def print_json(records: Any) -> None:
    """One JSON document on stdout (UTF-8 as is, keys in the order the records give them)."""
    click.echo(json.dumps(records, indent=2, ensure_ascii=False))


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")


class Advance(Protocol):
    def __call__(self) -> None: ...


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Advance]:
    """A progress bar on stderr; yields the function to call once per item done."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=_console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)

        def advance() -> None:
            bar.advance(task)

        yield advance
