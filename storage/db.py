"""Engines and sessions, built from a URL argument (never from a global)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.audit_key import SESSION_INFO_KEY, AuditKey

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 512
READ_ONLY = "bulkauth_read_only"  # an execution option: this session only reads


def async_url(database_url: str) -> URL:
    """Accept the plain URL forms people paste and use the async driver for each backend."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return url.set(drivername=_ASYNC_DRIVERS[backend])


def missing_sqlite_file(database_url: str) -> Path | None:
    """The absolute path of a SQLite database file that does not exist (None otherwise)."""
    url = async_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database).resolve()
    return None if path.exists() else path


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across app crashes, fewer fsyncs
    cursor.execute("PRAGMA foreign_keys=ON")
    # Each pooled connection has its own page cache (2 MB by default) and thread; with the OS's
    # file cache beneath, a small one costs nothing measurable and keeps the bot's memory flat.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()
    # SQLAlchemy emits BEGIN itself (below) instead of the driver's implicit, deferred one.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
    # failing to upgrade a read snapshot (which SQLite reports as "database is locked"). A
    # read-only session (see `session_factory`) reads a WAL snapshot without that lock, so reads
    # never queue behind a run's writes.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **options)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


Sessions = async_sessionmaker[AsyncSession]


def session_factory(
    engine: AsyncEngine, *, audit_key: AuditKey | None = None, read_only: bool = False
) -> Sessions:
    """Sessions on `engine`; those that append to or verify the audit log need `audit_key`.
    `read_only` sessions must not write: on SQLite they do not take the write lock."""
    info = {SESSION_INFO_KEY: audit_key} if audit_key is not None else {}
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, info=info)


def read_only_sessions(sessions: Sessions) -> Sessions:
    """Sessions like `sessions`, for reading only (on SQLite, without the write lock)."""
    bind = sessions.kw["bind"]
    return async_sessionmaker(
        bind.execution_options(**{READ_ONLY: True}),
        class_=AsyncSession,
        expire_on_commit=False,
        info=sessions.kw.get("info", {}),
    )


async def is_reachable(engine: AsyncEngine, *, timeout: float = 2.0) -> bool:
    """True when a trivial query answers within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # a timeout or any driver error means "not reachable"
        return False
    return True


@asynccontextmanager
async def engine_for(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()
