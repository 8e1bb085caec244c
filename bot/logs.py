"""Logging to stderr, one line per event, with secrets redacted from everything that is written.

Redaction happens in the formatter, so it covers the message, its arguments, the event's fields
and any traceback. Known secret values are registered at start (and when a user submits one), in
every encoding they travel in (JSON-escaped, URL-encoded, a PEM's base64 body); well-known secret
shapes are masked even when nobody registered them.

The bot's own events are one line each with fields (`log_event`): `key=value` pairs in text
mode, JSON fields in JSON mode. Libraries log at WARNING and above only: their INFO and DEBUG
output is raw traffic (every SQL statement with its parameters, request bodies, every scheduler
tick), which is noise at best and a leak at worst.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
# A space inside a PEM header as it travels: raw, form-encoded or percent-encoded.
_SPACE = r"(?: |\+|%20)"
_SHAPES = re.compile(
    # A PEM private key, raw, JSON-escaped or URL-encoded; also cut short (no END line).
    rf"-----BEGIN(?:{_SPACE}[A-Z]+)*{_SPACE}KEY-----.*?(?:-----END(?:{_SPACE}[A-Z]+)*{_SPACE}KEY-----|$)"
    # A long run of base64 (a key body) with its line breaks, in any of those encodings.
    r"|(?:[A-Za-z0-9+/=]|%(?:2[BbFf]|3[Dd]|0[AaDd]|5[Cc])|\\[nr]|[\r\n]){160,}"
    r"|xox[abposre]-[A-Za-z0-9-]+"
    r"|xapp-[A-Za-z0-9-]+"
    r"|nyk_[A-Za-z0-9_]+"
    # Microsoft Entra client secrets look like `abc8Q~` followed by 30-odd characters.
    r"|(?<![A-Za-z0-9_~.-])[A-Za-z0-9_.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{30,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]+",
    re.DOTALL,
)
_MIN_SECRET_LENGTH = 6  # shorter strings would mask ordinary words
_PEM_LINE = re.compile(r"^-----(BEGIN|END) ")
# Libraries whose INFO and DEBUG output is raw traffic (SQL with parameters, request bodies,
# every scheduler tick): WARNING and above only, whatever LOG_LEVEL says, so a submitted secret
# is never even handed to the formatter. `sqlalchemy.engine` at INFO is SQLAlchemy's echo.
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
    "apscheduler",
    "asyncpg",
)


class Redactor:
    """Masks registered secret values and known secret shapes in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET_LENGTH:
                    self._secrets.update(_encodings(secret))

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SHAPES.sub(REDACTED, text)


def _encodings(secret: str) -> set[str]:
    """The secret as it can appear in text: raw, JSON-escaped, URL-encoded, base64; for a PEM key
    also its base64 body and each line of it."""
    variants = {
        secret,
        secret.replace("\n", "\\n"),
        json.dumps(secret)[1:-1],
        quote_plus(secret),
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
    }
    body_lines = [line for line in secret.splitlines() if not _PEM_LINE.match(line)]
    if len(body_lines) < len(secret.splitlines()):  # a PEM: its body is the key material
        variants.add("".join(body_lines))
        variants.update(line for line in body_lines if len(line) >= _MIN_SECRET_LENGTH)
    return {variant for variant in variants if len(variant) >= _MIN_SECRET_LENGTH}


def log_event(
    logger: logging.Logger, event: str, /, level: int = logging.INFO, **fields: Any
) -> None:
    """One of the bot's own events: a dotted name and its fields, on one line."""
    logger.log(level, event, extra={"event_fields": fields})


def _text_value(value: object) -> str:
    text = str(value)
    if not text or any(char in text for char in ' "=\n'):
        return json.dumps(text)
    return text


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, *, as_json: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redactor = redactor
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "event_fields", None) or {}
        if not self._as_json:
            line = super().format(record)
            if fields:
                pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
                line = f"{line} {pairs}"
            return self._redactor.redact(line).replace("\n", "\\n")
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update({key: value for key, value in fields.items() if key not in event})
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
        logging.getLogger(name).setLevel(logging.WARNING)
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
