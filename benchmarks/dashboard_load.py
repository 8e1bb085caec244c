"""How long the App Home and `/bulkauth status` take to read the database as runs pile up:
the same credentials with 1x and 10x the run items, in one process.

python -m benchmarks.dashboard_load [--items 50000] [--factor 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.home.dashboard import load_home, load_status
from storage.db import Sessions, create_engine, session_factory
from storage.migrate import upgrade
from storage.models import BulkRun, CredentialRecord, ItemStatus, RunStatus, utcnow
from storage.runs import add_items

CREDENTIALS = 20
RUNS_PER_CREDENTIAL = 5
REPEATS = 5


async def fill(sessions: Sessions, items: int) -> None:
    per_run = items // (CREDENTIALS * RUNS_PER_CREDENTIAL)
    async with sessions() as session:
        for number in range(CREDENTIALS):
            credential = CredentialRecord(
                nylas_credential_id=f"cred-{number}",
                provider="google",
                credential_type="serviceaccount",
                name=f"customer-{number}.com",
                registered_by="U0BENCH",
                registered_by_name="Bench",
            )
            session.add(credential)
            await session.flush()
            for _ in range(RUNS_PER_CREDENTIAL):
                run = BulkRun(
                    credential_id=credential.id or 0,
                    provider="google",
                    status=RunStatus.FINISHED,
                    requested_by="U0BENCH",
                    requested_by_name="Bench",
                    total=per_run,
                    finished_at=utcnow(),
                )
                session.add(run)
                await session.flush()
                emails = (f"user{index}@customer-{number}.com" for index in range(per_run))
                await add_items(
                    session=session, run_id=run.id or 0, emails=emails, status=ItemStatus.CREATED
                )
        await session.commit()


async def median_ms(sessions: Sessions) -> tuple[float, float]:
    home, status = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await load_home(sessions, now=utcnow())
        home.append(time.perf_counter() - started)
        started = time.perf_counter()
        await load_status(sessions, now=utcnow())
        status.append(time.perf_counter() - started)
    return statistics.median(home) * 1000, statistics.median(status) * 1000


async def measure(items: int, workdir: Path) -> tuple[float, float]:
    engine = create_engine(f"sqlite:///{workdir / f'dashboard-{items}.db'}")
    await upgrade(engine)
    await fill(session_factory(engine), items)
    try:
        return await median_ms(session_factory(engine))
    finally:
        await engine.dispose()


async def main(items: int, factor: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        small = await measure(items, Path(workdir))
        large = await measure(items * factor, Path(workdir))
    for count, (home, status) in ((items, small), (items * factor, large)):
        print(f"{count:>9,} run items: App Home {home:7.1f} ms, status {status:6.1f} ms (median)")
    print(
        f"for {factor}x the items: App Home x{large[0] / small[0]:.1f}, "
        f"status x{large[1] / small[1]:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--factor", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.items, arguments.factor))
