"""What a run shows in Slack: one progress message edited in place (at most every few seconds),
then the summary in the same message and a CSV of every user in its thread."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.runs.holds import build_held, propagation_note
from bot.runs.messages import build_progress, build_summary
from bot.runs.results import write_run_csv
from bot.settings import Settings
from bot.slack.client import CALL_FAILED, failure_reason
from bot.slack.upload import Upload, UploadFailed, scratch_file, upload_with_retries
from storage.audit import Actor, AuditAction, Subject, record_event
from storage.db import Sessions
from storage.models import (
    FINISHED_ITEM_STATUSES,
    SENT_ITEM_STATUSES,
    UNSENT_ITEM_STATUSES,
    BulkRun,
    CredentialRecord,
    RunStatus,
    as_utc,
    utcnow,
)
from storage.runs import get_run, item_counts, store_counts

log = logging.getLogger(__name__)


def _state(run: BulkRun) -> str:
    return {
        RunStatus.RUNNING: "running",
        RunStatus.HELD: "held",
        RunStatus.APPROVED: "starting",
        RunStatus.WAITING_FOR_CONSENT: "waiting for consent propagation",
        RunStatus.FINISHED: "finished",
        RunStatus.CANCELLED: "cancelled",
    }.get(RunStatus(run.status), run.status)


class RunReporter:
    """A run observer (`bot.runs.engine.RunObserver`): its progress message and summary."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: Sessions,
        slack: AsyncWebClient,
        http: aiohttp.ClientSession,
    ) -> None:
        self._interval = settings.bulkauth_progress_interval_seconds
        self._upload_attempts = settings.bulkauth_upload_attempts
        self._sessions = sessions
        self._slack = slack
        self._http = http
        self._last_update: dict[int, float] = {}
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._editing: dict[int, asyncio.Task[None]] = {}  # at most one edit under way per run
        self._stale: set[int] = set()  # progress arrived while an edit was under way
        self._closed: set[int] = set()  # summary shown: no more progress edits
        self._told_propagating: set[int] = set()  # the thread heard of the wait (once per run)
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """At shutdown: no more scheduled edits; let the ones under way finish."""
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    async def started(self, run_id: int) -> None:
        """A worker took the run up: show it running (as any progress, within the interval)."""
        self.progressed(run_id)

    def progressed(self, run_id: int) -> None:
        """Items finished: edit the message now, or when the interval since the last edit ends.
        One edit at a time per run; progress during an edit schedules the next one after it."""
        if run_id in self._closed:
            return
        if run_id in self._pending or run_id in self._editing:
            self._stale.add(run_id)
            return
        wait = self._last_update.get(run_id, -self._interval) + self._interval - time.monotonic()
        loop = asyncio.get_running_loop()
        self._pending[run_id] = loop.call_later(max(0.0, wait), self._spawn_update, run_id)

    def _spawn_update(self, run_id: int) -> None:
        self._pending.pop(run_id, None)
        self._stale.discard(run_id)
        task = asyncio.create_task(self.update(run_id))
        self._editing[run_id] = task
        self._tasks.add(task)
        task.add_done_callback(lambda _task: self._edited(run_id, _task))

    def _edited(self, run_id: int, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._editing.pop(run_id, None)
        if run_id in self._stale:
            self._stale.discard(run_id)
            self.progressed(run_id)

    async def _load(self, run_id: int) -> tuple[BulkRun, Counter[str]] | None:
        async with self._sessions() as session:
            run = await get_run(session=session, run_id=run_id)
            counts = Counter(await item_counts(session=session, run_id=run_id))
        return (run, counts) if run is not None else None

    async def update(self, run_id: int) -> None:
        loaded = await self._load(run_id)
        if loaded is None or not loaded[0].message_ts or run_id in self._closed:
            return
        run, counts = loaded
        self._last_update[run_id] = time.monotonic()  # the interval runs from the edit itself
        if run.status == RunStatus.HELD:
            async with self._sessions() as session:
                owner = run.credential_id  # None: a revocation across every credential
                credential = await session.get(CredentialRecord, owner) if owner else None
            held = build_held(
                run, counts, google_client_id=credential.client_id if credential else None
            )
            await self._edit(run, held.as_kwargs())
            return
        rate, eta = self._pace(run, counts)
        message = build_progress(run, counts, rate=rate, eta_seconds=eta, state=_state(run))
        await self._edit(run, message.as_kwargs())

    async def propagating(self, run_id: int, *, seconds: float) -> None:
        """Once per run, in the progress thread: the canary waits for consent to propagate."""
        loaded = await self._load(run_id)
        if loaded is None or run_id in self._told_propagating or not loaded[0].channel_id:
            return
        self._told_propagating.add(run_id)
        run = loaded[0]
        assert run.channel_id is not None
        note = propagation_note(run, until=utcnow() + timedelta(seconds=seconds))
        try:
            await self._slack.chat_postMessage(
                channel=run.channel_id,
                thread_ts=run.thread_ts or run.message_ts,
                **note.as_kwargs(),
            )
        except CALL_FAILED as error:  # refused, or Slack unreachable: the canary waits all the same
            log.warning("run %s: propagation note not posted (%s)", run_id, failure_reason(error))

    @staticmethod
    def _pace(run: BulkRun, counts: Counter[str]) -> tuple[float | None, float | None]:
        if run.started_at is None:
            return None, None
        elapsed = (utcnow() - as_utc(run.started_at)).total_seconds()
        sent = sum(counts[status] for status in SENT_ITEM_STATUSES)
        if elapsed <= 0 or sent == 0:
            return None, None
        rate = sent / elapsed
        remaining = sum(counts[status] for status in UNSENT_ITEM_STATUSES)
        return rate, remaining / rate

    async def _edit(self, run: BulkRun, content: dict[str, Any]) -> bool:
        """False when Slack refused the edit or did not answer."""
        if not run.channel_id or not run.message_ts:
            return False
        try:
            await self._slack.chat_update(channel=run.channel_id, ts=run.message_ts, **content)
        except CALL_FAILED as error:
            log.warning("run %s: progress message not updated (%s)", run.id, failure_reason(error))
            return False
        return True

    async def finished(self, run_id: int, *, cancelled_by: str | None = None) -> None:
        """Final counts, the summary in the progress message, the CSV in its thread."""
        await self._stop_progress(run_id)
        loaded = await self._load(run_id)
        if loaded is None:
            return
        run, counts = loaded
        with scratch_file(f"run-{run_id}.csv") as path:
            failures = await self._write_report(run_id, counts, path, cancelled_by=cancelled_by)
            if run.message_ts and run.channel_id:
                summary = build_summary(run, counts, failures, cancelled_by=cancelled_by)
                # At once, the upload may take a while; not shown, it is tried again after it.
                shown = await self._edit(run, summary.as_kwargs())
                sent = await self._send_csv(run, path)
                if not sent or not shown:
                    summary = build_summary(
                        run, counts, failures, cancelled_by=cancelled_by, csv_sent=sent
                    )
                    await self._edit(run, summary.as_kwargs())

    async def send_csv_again(self, run_id: int) -> bool:
        """The CSV of an ended run, written again from the database and sent to its thread;
        on success the summary loses its warning and button. False: Slack still refused."""
        loaded = await self._load(run_id)
        if loaded is None or not loaded[0].message_ts or not loaded[0].channel_id:
            return False
        run, counts = loaded
        with scratch_file(f"run-{run_id}.csv") as path:
            async with self._sessions() as session:
                with path.open("w", newline="", encoding="utf-8") as out:
                    failures = await write_run_csv(session, run_id, out)
            if not await self._send_csv(run, path):
                return False
        summary = build_summary(run, counts, failures)
        await self._edit(run, summary.as_kwargs())
        return True

    async def _send_csv(self, run: BulkRun, path: Path) -> bool:
        """Retried with backoff (honouring Retry-After); False once Slack still refuses it."""
        assert run.channel_id is not None and run.message_ts is not None
        upload = Upload(
            filename=path.name,
            title=f"Run {run.id}: every user's outcome",
            channel_id=run.channel_id,
            thread_ts=run.thread_ts or run.message_ts,
        )
        try:
            await upload_with_retries(
                self._slack, self._http, path, upload, attempts=self._upload_attempts
            )
        except (*CALL_FAILED, UploadFailed) as error:
            log.error(
                "run %s: the CSV could not be sent to Slack (%s); the summary offers it again",
                run.id,
                failure_reason(error),
            )
            return False
        return True

    async def _stop_progress(self, run_id: int) -> None:
        """No progress edit may follow (or overtake) the summary."""
        self._closed.add(run_id)
        if (handle := self._pending.pop(run_id, None)) is not None:
            handle.cancel()
        if (editing := self._editing.get(run_id)) is not None:
            await asyncio.wait([editing], timeout=10)

    async def _write_report(
        self, run_id: int, counts: Counter[str], path: Path, *, cancelled_by: str | None
    ) -> Counter[str]:
        """Store the final counts, write every user's outcome to `path` (streamed from the
        database) and audit the end; returns the failures by reason."""
        async with self._sessions() as session:
            await store_counts(session=session, run_id=run_id, counts=dict(counts))
            with path.open("w", newline="", encoding="utf-8") as out:
                failures = await write_run_csv(session, run_id, out)
            await record_event(
                session=session,
                actor=Actor("bulkauth", "bulkauth run engine"),
                action=AuditAction.RUN_FINISHED,  # who cancelled is the run.cancelled event
                subject=Subject(run_id=run_id),
                details={
                    **{status.value: counts[status] for status in FINISHED_ITEM_STATUSES},
                    **({"cancelled_by": cancelled_by} if cancelled_by else {}),
                },
            )
            await session.commit()
        return failures
