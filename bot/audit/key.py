"""Where the audit chain's key and its local anchor file come from.

`BULKAUTH_AUDIT_KEY` wins. Without it, a SQLite deployment keeps a generated key in a file beside
(never inside) the database file, readable by its owner only, and the bot warns at start that a
team deployment should hold the key in its secret store. PostgreSQL needs the setting: replicas
and the command line must share one key, and a file on one machine would split the chain.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import DatabaseSettings
from storage.audit_key import AuditKey

KEY_FILE_SUFFIX = ".audit-key"
ANCHOR_FILE_SUFFIX = ".audit-anchors"
DEFAULT_ANCHOR_FILE = Path("bulkauth-audit-anchors.jsonl")  # with PostgreSQL: working directory


class AuditKeyProblem(RuntimeError):
    """The audit key cannot be had; the message says what to set (never a value)."""


@dataclass(frozen=True, repr=False)
class ResolvedKey:
    key: AuditKey
    secret: str  # for the log redactor only
    kept_in: Path | None  # the generated key's file; None when it came from the setting

    def __repr__(self) -> str:
        return f"ResolvedKey(kept_in={self.kept_in})"


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite database's file, or None (PostgreSQL, or SQLite in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def anchor_file(settings: DatabaseSettings) -> Path:
    if settings.bulkauth_audit_anchor_file is not None:
        return settings.bulkauth_audit_anchor_file
    database = sqlite_file(settings.database_url)
    return (
        database.with_name(database.name + ANCHOR_FILE_SUFFIX) if database else DEFAULT_ANCHOR_FILE
    )


def _read_or_create_key_file(path: Path) -> str:
    try:
        # O_EXCL: of two processes starting at once, one creates the key and the other reads it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AuditKeyProblem(
                f"the audit key file {path} is readable by others; run `chmod 600 {path}`"
            ) from None
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        generated = secrets.token_hex(32)
        out.write(generated + "\n")
    return generated


def resolve_audit_key(settings: DatabaseSettings) -> ResolvedKey:
    if settings.bulkauth_audit_key is not None:
        secret = settings.bulkauth_audit_key.get_secret_value()
        return ResolvedKey(AuditKey(secret), secret, None)
    database = sqlite_file(settings.database_url)
    if database is None:
        if make_url(settings.database_url).get_backend_name() == "sqlite":
            secret = secrets.token_hex(32)  # an in-memory database lives as long as its key
            return ResolvedKey(AuditKey(secret), secret, None)
        raise AuditKeyProblem(
            "BULKAUTH_AUDIT_KEY is required with PostgreSQL (every replica and the command line "
            "must share it; keep it in your secret store)"
        )
    path = database.with_name(database.name + KEY_FILE_SUFFIX)
    try:
        secret = _read_or_create_key_file(path)
        return ResolvedKey(AuditKey(secret), secret, path)
    except (OSError, ValueError) as error:
        raise AuditKeyProblem(f"the audit key file {path} cannot be used ({error})") from None
