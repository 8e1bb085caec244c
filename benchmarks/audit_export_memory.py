"""Peak memory of `audit export` for a small and a 10x larger log: streaming keeps it flat.

python -m benchmarks.audit_export_memory [--events 20000] [--factor 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import tracemalloc
from pathlib import Path

from bot.audit_export import export_events
from storage.audit import Actor, AuditAction, AuditFilter, Subject, record_event
from storage.db import Sessions, create_engine, session_factory
from storage.migrate import upgrade


class NullWriter(io.TextIOBase):
    def __init__(self) -> None:
        self.characters = 0

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)


async def fill(sessions: Sessions, count: int) -> None:
    actor = Actor("U0BENCH", "Bench")
    for start in range(0, count, 5000):
        async with sessions() as session:
            for index in range(start, min(count, start + 5000)):
                await record_event(
                    session=session,
                    actor=actor,
                    action=AuditAction.GRANT_CREATED,
                    subject=Subject(
                        email=f"user{index}@acme.com", grant_id=f"grant-{index}", run_id=1
                    ),
                    request_id=f"req-{index}",
                    details={"attempt": 1},
                )
            await session.commit()


async def peak_export_bytes(events: int, workdir: Path) -> tuple[int, float]:
    engine = create_engine(f"sqlite:///{workdir / f'audit-{events}.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    await fill(sessions, events)
    out = NullWriter()
    tracemalloc.start()
    started = time.monotonic()
    written = await export_events(
        sessions=sessions, filters=AuditFilter(), output_format="csv", out=out
    )
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await engine.dispose()
    assert written == events
    return peak, elapsed


async def main(events: int, factor: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        small_peak, small_time = await peak_export_bytes(events, Path(workdir))
        large_peak, large_time = await peak_export_bytes(events * factor, Path(workdir))
    print(f"{events:>9,} events: peak {small_peak / 1e6:6.2f} MB traced, {small_time:5.1f} s")
    print(
        f"{events * factor:>9,} events: peak {large_peak / 1e6:6.2f} MB traced, {large_time:5.1f} s"
    )
    print(
        f"memory ratio for {factor}x the events: {large_peak / small_peak:.2f} "
        f"(1.0 = constant memory)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--factor", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.factor))
