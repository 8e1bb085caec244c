"""User lists: pasted text or an uploaded CSV/TXT file, parsed into valid, folded addresses."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.runtime.addresses import normalise

_SEPARATORS = re.compile(r"[\s,;]+")
_HEADER_WORDS = ("email", "e-mail", "mail", "upn", "userprincipalname", "address")
SAMPLE_ROWS = 50
MAX_USER_FILE_BYTES = 5 * 1024 * 1024  # read whole up to this size, refused above it


@dataclass
class UserList:
    """The addresses to process, in first-seen order, plus what was set aside."""

    emails: list[str] = field(default_factory=list)
    duplicates: int = 0
    invalid: list[str] = field(default_factory=list)
    submitted: int = 0


def fold(candidates: Iterable[str]) -> UserList:
    users = UserList()
    seen: set[str] = set()
    for raw in candidates:
        candidate = raw.strip().strip("<>\"'")
        if not candidate:
            continue
        users.submitted += 1
        email = normalise(candidate)
        if email is None:
            users.invalid.append(candidate)
        elif email in seen:
            users.duplicates += 1
        else:
            email = candidate if email == candidate else email  # one copy of a big list's text
            seen.add(email)
            users.emails.append(email)
    return users


def split_pasted(text: str) -> list[str]:
    return [part for part in _SEPARATORS.split(text) if part]


class NoEmailColumn(ValueError):
    pass


def _is_header(line: str) -> bool:
    name = line.strip().lower().replace(" ", "")
    return normalise(line.strip()) is None and any(word in name for word in _HEADER_WORDS)


def _email_column(rows: list[list[str]]) -> tuple[int, bool]:
    """(column index, whether the first row is a header)."""
    header = [cell.strip().lower().replace(" ", "") for cell in rows[0]]
    for index, name in enumerate(header):
        if any(word in name for word in _HEADER_WORDS) and normalise(rows[0][index]) is None:
            return index, True
    sample = rows[:SAMPLE_ROWS]
    width = max(len(row) for row in sample)
    scores = [
        sum(1 for row in sample if len(row) > index and normalise(row[index]))
        for index in range(width)
    ]
    best = max(range(width), key=lambda index: scores[index])
    if scores[best] == 0:
        raise NoEmailColumn("No column of this file holds email addresses.")
    return best, normalise(rows[0][best]) is None


def emails_from_file(text: str) -> list[str]:
    """Addresses from a CSV (the email column found by header or content) or a plain list."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise NoEmailColumn("The file is empty.")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            "\n".join(lines[:SAMPLE_ROWS]), delimiters=",;\t|"
        )
    except csv.Error:  # one column: a plain list, perhaps under a header such as "email"
        if _is_header(lines[0]):
            lines = lines[1:]
        return [word for line in lines for word in split_pasted(line)]
    rows = [row for row in csv.reader(io.StringIO("\n".join(lines)), dialect) if row]
    column, has_header = _email_column(rows)
    return [row[column] for row in rows[1 if has_header else 0 :] if len(row) > column]
