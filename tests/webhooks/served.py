"""`bulkauth serve` as a separate process (the kill -9 test, the burst benchmark), and how much
of its webhook inbox is still unprocessed, read from the test's side of the database."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlmodel import col, func, select

from storage.db import Sessions
from storage.models import WebhookNotification


class Served:
    """`python -m bot serve` as a process, its log drained as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self.running = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.log.append(line.decode())
            if "bulkauth is running" in self.log[-1]:
                self.running.set()

    async def started(self) -> Served:
        async with asyncio.timeout(30):
            await self.running.wait()
        return self

    async def ended(self) -> None:
        await self.process.wait()
        await self._reader


async def unprocessed(sessions: Sessions) -> int:
    async with sessions() as session:  # one short transaction a look (SQLite locks on BEGIN)
        waiting = select(func.count()).select_from(WebhookNotification)
        return int(
            (
                await session.exec(waiting.where(col(WebhookNotification.processed_at).is_(None)))
            ).one()
        )


async def serve(cwd: Path, env: dict[str, str]) -> Served:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return await Served(process).started()
