"""Logging to stderr, one line per event, with secrets redacted from everything that is written.

Redaction happens in the formatter, so it covers the message, its arguments and any traceback.
Known secret values are registered at start (and when a user submits one); well-known token
shapes are masked even when nobody registered them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "[REDACTED]"
_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|xox[abposre]-[A-Za-z0-9-]+"
    r"|xapp-[A-Za-z0-9-]+"
    r"|nyk_[A-Za-z0-9_]+"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]+",
    re.DOTALL,
)
_MIN_SECRET_LENGTH = 6
# Libraries whose DEBUG output is raw traffic (request bodies, SQL parameters): kept at INFO even
# when LOG_LEVEL=DEBUG, so a submitted secret is never even handed to the formatter.
QUIET_LIBRARIES = (
    "aiosqlite",
    "asyncio",
    "httpcore",
    "httpx",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
    "alembic",
    "aiohttp",
)  # shorter strings would mask ordinary words


class Redactor:
    """Masks registered secret values and known secret shapes in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET_LENGTH:
                    self._secrets.add(secret)
                    # PEM keys also travel with escaped newlines inside JSON.
                    self._secrets.add(secret.replace("\n", "\\n"))

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SHAPES.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, *, as_json: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redactor = redactor
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        if not self._as_json:
            return self._redactor.redact(super().format(record)).replace("\n", "\\n")
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return self._redactor.redact(json.dumps(event, default=str))


def configure_logging(
    *, redactor: Redactor, level: str = "INFO", as_json: bool = False, stream: object = None
) -> logging.Handler:
    """Route the root logger to one stderr handler that redacts; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(RedactingFormatter(redactor, as_json=as_json))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_bulkauth", False):
            root.removeHandler(existing)
    handler._bulkauth = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # A run scan that outlasts its interval is skipped on purpose (max_instances=1); APScheduler
    # warns about each skip, which is noise here.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    return handler


def secrets_of(values: Iterable[object]) -> list[str]:
    """The plain values of SecretStr-like objects, for registering with a Redactor."""
    plain = []
    for value in values:
        getter = getattr(value, "get_secret_value", None)
        if getter is not None:
            plain.append(str(getter()))
    return plain
