"""Peak memory of `audit export` for a small and a 10x larger log: streaming keeps it flat.
Then the larger export as the Slack "Export CSV" button sends it (bot.slack.upload, streamed)
against slack_sdk's files_upload_v2 (which reads the whole file), into the same fake Slack.

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

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.export import export_events
from bot.slack.upload import Upload, upload_file
from storage.audit import Actor, AuditAction, AuditFilter, Subject, record_event
from storage.audit_key import AuditKey
from storage.db import Sessions, create_engine, session_factory
from storage.migrate import upgrade
from tests.fakes.slack import FakeSlack


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


async def peak_export_bytes(events: int, workdir: Path) -> tuple[int, float, Path]:
    """(peak traced bytes, seconds) of exporting `events` events; also writes them to a CSV."""
    engine = create_engine(f"sqlite:///{workdir / f'audit-{events}.db'}")
    await upgrade(engine)
    sessions = session_factory(engine, audit_key=AuditKey("benchmark-audit-key-" + "0" * 32))
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
    csv_path = workdir / f"audit-{events}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as file:
        await export_events(sessions=sessions, filters=AuditFilter(), output_format="csv", out=file)
    await engine.dispose()
    assert written == events
    return peak, elapsed, csv_path


async def peak_upload_bytes(csv_path: Path, size: int, *, streamed: bool) -> int:
    """Peak traced bytes of sending the file to a fake Slack that keeps none of it."""
    slack = FakeSlack(keep_uploads=False)
    await slack.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = AsyncWebClient(token="xoxb-bench", base_url=f"{slack.url}/api/")
            tracemalloc.start()
            if streamed:
                upload = Upload(filename=csv_path.name, title="audit", channel_id="D0BENCH")
                await upload_file(client, http, csv_path, upload)
            else:
                await client.files_upload_v2(
                    channel="D0BENCH", file=str(csv_path), filename=csv_path.name, title="audit"
                )
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        await slack.stop()
    [received] = slack.uploads.values()
    assert received.size == size, "every byte arrived"
    return peak


async def main(events: int, factor: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        small_peak, small_time, _ = await peak_export_bytes(events, Path(workdir))
        large_peak, large_time, csv_path = await peak_export_bytes(events * factor, Path(workdir))
        size = csv_path.stat().st_size
        streamed = await peak_upload_bytes(csv_path, size, streamed=True)
        baseline = await peak_upload_bytes(csv_path, size, streamed=False)
    print(f"{events:>9,} events: peak {small_peak / 1e6:6.2f} MB traced, {small_time:5.1f} s")
    print(
        f"{events * factor:>9,} events: peak {large_peak / 1e6:6.2f} MB traced, {large_time:5.1f} s"
    )
    print(
        f"memory ratio for {factor}x the events: {large_peak / small_peak:.2f} "
        f"(1.0 = constant memory)"
    )
    print(f"sending that {size / 1e6:.1f} MB CSV to Slack (Export CSV):")
    print(f"  bot.slack.upload (streamed):         peak {streamed / 1e6:6.2f} MB traced")
    print(f"  baseline files_upload_v2 (in memory): peak {baseline / 1e6:6.2f} MB traced")
    print(f"  ratio streamed / baseline: {streamed / baseline:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--factor", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.factor))
