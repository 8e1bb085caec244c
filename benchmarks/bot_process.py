"""One bot in a process of its own, for `benchmarks.bulk_run`: it plans a run, works one, or joins
one another replica started, and prints one JSON line of what it measured (its own CPU seconds and
memory only: the fakes and the other replicas run in other processes).

    python -m benchmarks.bot_process plan|work|join --database URL --slack URL --nylas URL ...
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import resource
import sys
import threading
import time
import tracemalloc
from typing import Any

import psutil
from sqlalchemy import func
from sqlmodel import col, select

from benchmarks.fakes_process import ADMIN, CREDENTIAL
from bot.logs import Redactor, configure_logging
from bot.runs.emails import fold
from bot.runs.plan import GrantRequest, PendingPlan, make_plan
from bot.runtime.heap import freeze_start_up_objects
from bot.serve import StartedBot, started_bot
from bot.settings import Settings
from bot.slack.access import SlackActor
from storage.db import read_only_sessions
from storage.models import BulkRun, CredentialRecord, RunItem, RunStatus, as_utc, utcnow
from storage.runs import item_counts
from tests.fakes.nylas import API_KEY
from tests.slack_requests import SIGNING_SECRET

AUDIT_KEY = "bench-audit-key-0123456789abcdef0123456789abcdef"
SCOPE = "https://www.googleapis.com/auth/calendar"
ACTOR = SlackActor(user_id=ADMIN, display_name="Bench", is_workspace_admin=True)


def settings_for(arguments: argparse.Namespace) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=f"{arguments.slack}/api/",
        nylas_api_key=API_KEY,
        nylas_api_uri=arguments.nylas,
        database_url=arguments.database,
        port=0,
        bulkauth_admins=[ADMIN],
        bulkauth_nylas_rps=arguments.rate,
        bulkauth_nylas_concurrency=arguments.concurrency,
        bulkauth_item_attempts=5,
        bulkauth_run_scan_seconds=arguments.scan_seconds,
        log_level=arguments.log_level,
        bulkauth_audit_key=AUDIT_KEY,  # every replica shares it, as on PostgreSQL they must
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kernel_cpu_seconds() -> float:
    """The part of cpu_seconds() spent in the kernel (system calls: sockets, wake-ups)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


class PeakRss:
    """The process's resident memory sampled every 100 ms from a thread, and its peak."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = 0
        self.timeline: list[int] = []  # MB, one a second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> int:
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        ticks = 0
        while not self._stop.wait(0.1):
            now = self.now()
            self.peak = max(self.peak, now)
            ticks += 1
            if ticks % 10 == 0:
                self.timeline.append(now >> 20)

    def __enter__(self) -> PeakRss:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


async def plan(bot: StartedBot, users: int) -> dict[str, Any]:
    """Write a run of `users` users and approve it (started by the `work` process)."""
    deps = bot.deps
    async with deps.sessions() as session:
        credential = CredentialRecord(
            nylas_credential_id=CREDENTIAL,
            provider="google",
            credential_type="serviceaccount",
            name="bench",
            registered_by=ADMIN,
            registered_by_name="Bench",
        )
        session.add(credential)
        await session.commit()
        await session.refresh(credential)
    assert credential.id is not None
    began = cpu_seconds()
    emails = [f"user{index}@bench.example.com" for index in range(users)]
    request = GrantRequest(
        credential=credential, candidates=tuple(emails), scopes=(SCOPE,), skip_existing=True
    )
    planned = make_plan(request, fold(emails), existing=[])
    pending = PendingPlan(plan=planned, requester=ACTOR, channel_id="")
    del emails, request
    run = await deps.runs.write_run(pending)
    assert run.id is not None
    await deps.runs.decide(run.id, ACTOR, approved=True, now=utcnow())
    return {"run_id": run.id, "cpu": cpu_seconds() - began}


async def finished(bot: StartedBot, run_id: int) -> tuple[float, float, dict[str, int]]:
    """Wait (polling the database once a second) until the run has finished; its duration (from
    its start to its last item, as the run records them, so the poll's pace does not change it),
    its start (on the monotonic clock, which every process here shares) and its items' counts."""
    readers = read_only_sessions(bot.deps.sessions)  # the poll is the harness's CPU, kept small
    while True:
        async with readers() as session:
            run = await session.get(BulkRun, run_id)
            if run is not None and run.status == RunStatus.FINISHED:
                assert run.started_at is not None and run.finished_at is not None
                took = (as_utc(run.finished_at) - as_utc(run.started_at)).total_seconds()
                ago = (utcnow() - as_utc(run.started_at)).total_seconds()
                started = time.monotonic() - ago
                return took, started, await item_counts(session=session, run_id=run_id)
        await asyncio.sleep(1.0)


async def work(bot: StartedBot, run_id: int, *, start: bool) -> dict[str, Any]:
    gc.collect()
    await asyncio.sleep(0.5)
    traced = bool(os.environ.get("BENCH_TRACEMALLOC"))  # where the run's memory goes (slow)
    if traced:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
    profiled = os.environ.get("BENCH_CPROFILE")  # a file for the event loop's profile (slow)
    profile = cProfile.Profile() if profiled else None
    with PeakRss() as rss:
        idle = rss.now()
        cpu, kernel, started = cpu_seconds(), kernel_cpu_seconds(), time.monotonic()
        if profile is not None:
            profile.enable()
        if start:
            await bot.deps.runs.start(run_id, channel_id=ADMIN, thread_ts=None)
        duration, run_started, counts = await finished(bot, run_id)
        if profile is not None:
            profile.disable()
        cpu, kernel = cpu_seconds() - cpu, kernel_cpu_seconds() - kernel
    if profile is not None and profiled:
        profile.dump_stats(profiled)
    if traced:
        gc.collect()
        for stat in tracemalloc.take_snapshot().compare_to(before, "filename")[:20]:
            print(stat, file=sys.stderr)
    async with bot.deps.sessions() as session:
        worker = bot.deps.run_engine.worker_id
        query = select(func.count()).select_from(RunItem).where(col(RunItem.claimed_by) == worker)
        mine = int((await session.exec(query)).one())
    return {
        "run_id": run_id,
        "duration": duration,
        "started": run_started,
        "waited": time.monotonic() - started,
        "cpu": cpu,
        "kernel_cpu": kernel,
        "counts": counts,
        "idle_rss": idle,
        "peak_rss": rss.peak,
        "rss_timeline": rss.timeline,
        "items_here": mine,
    }


async def main(arguments: argparse.Namespace) -> None:
    settings = settings_for(arguments)
    redactor = Redactor()
    configure_logging(redactor=redactor, level=arguments.log_level)
    async with started_bot(settings, redactor=redactor, host="127.0.0.1") as bot:
        freeze_start_up_objects()  # as `bulkauth serve` does
        if arguments.role == "plan":
            result = await plan(bot, arguments.users)
        else:
            print(json.dumps({"port": bot.port}), flush=True)
            result = await work(bot, arguments.run_id, start=arguments.role == "work")
    result["max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["plan", "work", "join"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--slack", required=True)
    parser.add_argument("--nylas", required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--run-id", type=int)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--scan-seconds", type=float, default=5.0)  # the setting's default
    asyncio.run(main(parser.parse_args()))
