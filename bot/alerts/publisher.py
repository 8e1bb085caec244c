"""Posts alert messages and edits them as their counts grow, within Slack's limits.

Every replica runs one publisher. An alert whose message lags behind its counts is claimed with
a conditional update (one replica edits it), posted the first time and edited afterwards, at
most once per EDIT_INTERVAL_SECONDS per message however fast events arrive (Slack allows about
one chat.update per second per message; the client retries a 429 after Retry-After). The
message's ts is stored, so edits continue after a restart. A stop lets the message under way
finish and be recorded (cut off there, the next bot would post it again once the claim ran out).
With no alert channel nothing is posted: the events are still audited and counted."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.causes import likely_cause
from bot.alerts.messages import alert_message
from bot.logs import log_event
from bot.runs.execution.worker_id import new_worker_id
from bot.runtime.tasks import cancel_and_wait, wait_event
from bot.slack.client import CHANNEL_PROBLEMS, UNANSWERED, failure_reason
from bot.slack.client import TIMEOUT_SECONDS as SLACK_TIMEOUT_SECONDS
from storage.alerts import active_mutes, alerts_to_publish, claim_alert, published, release
from storage.credentials import credentials_by_nylas_id
from storage.db import Sessions
from storage.models import GrantAlert, utcnow

log = logging.getLogger(__name__)
EDIT_INTERVAL_SECONDS = 1.0
POLL_SECONDS = 2.0  # alerts counted by another replica are noticed this often
CLAIM_LEASE = timedelta(seconds=30)
STOP_SECONDS = SLACK_TIMEOUT_SECONDS  # a stop waits one attempt of the message under way


class AlertPublisher:
    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        channel: str | None,
        window_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self.channel = channel
        self._window_seconds = window_seconds
        self._worker_id = new_worker_id()
        self.wake = asyncio.Event()  # set by the processor after each batch
        self.activity = asyncio.Event()  # set after each publishing turn (tests await it)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.channel is not None:
            self._task = asyncio.create_task(self._loop(), name="alert-publisher")

    def begin_stop(self) -> None:
        """Start no other message (the bot is shutting down); the one under way goes on."""
        self._stopping.set()
        self.wake.set()

    async def stop(self) -> None:
        """End the loop once the message under way (if any) is shown and recorded."""
        self.begin_stop()
        try:
            if self._task is not None:
                await asyncio.wait([self._task], timeout=STOP_SECONDS)
        finally:  # cancelled meanwhile too: nothing may post once the clients close
            await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await wait_event(self.wake, at_most=POLL_SECONDS)
            self.wake.clear()
            if self._stopping.is_set():
                return
            try:
                await self.publish_due()
            except Exception as error:  # the database or Slack failed; the next turn retries
                log.error("alerts: publishing failed", exc_info=error)
            self.activity.set()
            # coalesces a burst's edits
            await wait_event(self._stopping, at_most=EDIT_INTERVAL_SECONDS)

    async def publish_due(self) -> None:
        async with self._sessions() as session:
            due = await alerts_to_publish(session=session)
        for alert_id in due:
            if self._stopping.is_set():  # the others wait for the next bot
                return
            async with self._sessions() as session:
                alert = await claim_alert(
                    session=session,
                    alert_id=alert_id,
                    worker_id=self._worker_id,
                    now=utcnow(),
                    lease=CLAIM_LEASE,
                )
                await session.commit()
            if alert is not None:
                await self._publish(alert)

    async def _publish(self, alert: GrantAlert) -> None:
        assert alert.id is not None and self.channel is not None
        now = utcnow()
        async with self._sessions() as session:
            mutes = await active_mutes(session=session, keys=[alert.credential_key], now=now)
            known = await credentials_by_nylas_id(session=session, nylas_ids=[alert.credential_key])
        credential = known.get(alert.credential_key)
        mute = mutes.get(alert.credential_key)
        cause = likely_cause(
            provider=alert.provider,
            known=credential is not None,
            secret_expires_on=credential.secret_expires_on if credential else None,
            expired=alert.expired,
            deleted=alert.deleted,
            today=now.date(),
        )
        message = alert_message(
            alert_id=alert.id,
            credential_name=alert.credential_name,
            expired=alert.expired,
            deleted=alert.deleted,
            window_start=alert.window_start,
            window_seconds=self._window_seconds,
            cause=cause,
            muted_until=mute.muted_until if mute else None,
            muted_by=mute.muted_by if mute else None,
        )
        channel, ts = alert.channel_id or self.channel, alert.message_ts
        try:
            if ts is None:
                answer = await self._slack.chat_postMessage(channel=channel, **message.as_kwargs())
                ts = str(answer["ts"])
                log_event(log, "alert.posted", alert=alert.id, grants=alert.total)
            else:
                await self._slack.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        except SlackApiError as error:
            reason = error.response.get("error")
            log_event(log, "alert.not_posted", logging.WARNING, alert=alert.id, error=reason)
            if reason not in CHANNEL_PROBLEMS:
                await self._release(alert.id)
                return
            await self._published(alert, None, None)  # tried again when more events arrive
            return
        except UNANSWERED as error:  # Slack unreachable: tried again at the next turn
            reason = failure_reason(error)
            log_event(log, "alert.not_posted", logging.WARNING, alert=alert.id, error=reason)
            await self._release(alert.id)
            return
        await self._published(alert, channel, ts)

    async def _release(self, alert_id: int) -> None:
        async with self._sessions() as session:
            await release(session=session, alert_id=alert_id, worker_id=self._worker_id)
            await session.commit()

    async def _published(self, alert: GrantAlert, channel: str | None, ts: str | None) -> None:
        """The alert as shown now (`channel` None: it could not be shown there)."""
        assert alert.id is not None
        async with self._sessions() as session:
            await published(
                session=session,
                alert_id=alert.id,
                worker_id=self._worker_id,
                shown=alert.total,
                channel_id=channel,
                message_ts=ts,
                at=utcnow(),
            )
            await session.commit()
