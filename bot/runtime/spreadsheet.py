"""The one way the bot writes CSV: cells a spreadsheet would run as a formula are neutralised.

OWASP's advice for CSV injection: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a leading single quote, so Excel, LibreOffice and Google Sheets show it as text.
The value stays readable (only the quote is added); quoting of commas and quotes is `csv`'s.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would evaluate, made inert; everything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeCsvWriter:
    """`csv.writer` with every cell passed through `safe_cell`; rows as lists or as dicts."""

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self._writer = csv.writer(out)
        self._columns = tuple(columns)

    def write_header(self) -> None:
        self._writer.writerow(self._columns)

    def write_row(self, cells: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in cells])

    def write_dict(self, row: Mapping[str, Any]) -> None:
        self.write_row(row.get(column) for column in self._columns)
