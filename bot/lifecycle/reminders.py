"""Expiry reminders of credentials: a Microsoft client secret's expiry and a Google key's
maximum age, 30, 7 and 1 days before and on the day (bot/lifecycle/thresholds.py).

The database is the source of truth; APScheduler (bot/runtime/scheduling.py) is only the
timer, as for the consent reminder (bot/consent/reminders.py). Each credential has one job, at
its next threshold; jobs are rebuilt from the database at start and by an hourly rescan (which
also picks up credentials registered or rotated on another replica). A threshold is claimed in
`credential_reminder` before it is posted, so it fires once across restarts and replicas.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.consent.reminders import SCHEDULER_ACTOR
from bot.lifecycle.messages import build_expiry_reminder
from bot.lifecycle.thresholds import Threshold, owed, thresholds, upcoming
from bot.logs import log_event
from bot.runtime.scheduling import Scheduler
from bot.slack.client import CALL_FAILED, failure_reason
from storage.audit import AuditAction, Subject, record_event
from storage.credentials import (
    claim_credential_reminder,
    get_credential,
    list_credentials,
    sent_reminders,
    unclaim_credential_reminder,
)
from storage.db import Sessions
from storage.models import CredentialRecord, utcnow

log = logging.getLogger(__name__)
RETRY_AFTER_FAILED_POST = timedelta(seconds=60)
RESCAN_SECONDS = 3600.0


def expiry_job_id(credential_id: int) -> str:
    return f"credential-expiry:{credential_id}"


class ExpiryReminders:
    def __init__(
        self,
        *,
        sessions: Sessions,
        slack: AsyncWebClient,
        scheduler: Scheduler,
        key_max_age_days: int,
        alert_channel: str | None,
    ) -> None:
        self._sessions = sessions
        self._slack = slack
        self.scheduler = scheduler
        self._max_age = key_max_age_days
        self._alert_channel = alert_channel

    def _thresholds(self, record: CredentialRecord) -> list[Threshold]:
        return thresholds(record, key_max_age_days=self._max_age)

    async def start(self) -> None:
        """Schedule every credential's next reminder from the database, and rescan hourly."""
        count = await self.rescan()
        self.scheduler.every(
            self._rescan_job,
            seconds=RESCAN_SECONDS,
            id="credential-expiry:rescan",
            replace_existing=True,
        )
        log.info("scheduled expiry reminders of %d credential(s) from the database", count)

    async def _rescan_job(self) -> None:
        await self.rescan()

    async def rescan(self) -> int:
        async with self._sessions() as session:
            records = await list_credentials(session=session)
            sent = await sent_reminders(session=session)
        now = utcnow()
        scheduled = 0
        for record in records:
            assert record.id is not None
            all_thresholds = self._thresholds(record)
            missed = owed(all_thresholds, now)
            if missed is not None and (record.id, missed.key) not in sent:
                self._schedule(record.id, now)  # missed while down: once, at start
            elif (nxt := upcoming(all_thresholds, now)) is not None:
                self._schedule(record.id, nxt.at)
            else:
                continue
            scheduled += 1
        return scheduled

    def reschedule(self, record: CredentialRecord) -> None:
        """After a registration or rotation (a new deadline): at once when a threshold of it
        has already passed (a secret that expires within 30 days), else at the next one."""
        assert record.id is not None
        now = utcnow()
        all_thresholds = self._thresholds(record)
        if owed(all_thresholds, now) is not None:
            self._schedule(record.id, now)
        elif (nxt := upcoming(all_thresholds, now)) is not None:
            self._schedule(record.id, nxt.at)

    def _schedule(self, credential_id: int, at: datetime) -> None:
        self.scheduler.once(self.fire, at=at, id=expiry_job_id(credential_id), args=[credential_id])

    async def fire(self, credential_id: int) -> None:
        """Re-read the credential; post the threshold owed now if this replica claims it; then
        wait for the next one."""
        async with self._sessions() as session:
            record = await get_credential(session=session, credential_id=credential_id)
        if record is None:
            return
        now = utcnow()
        all_thresholds = self._thresholds(record)
        threshold = owed(all_thresholds, now)
        claimed = threshold is not None and await claim_credential_reminder(
            self._sessions, credential_id=credential_id, threshold=threshold.key, at=now
        )
        if claimed and threshold is not None and not await self._post(record, threshold, now):
            await unclaim_credential_reminder(
                self._sessions, credential_id=credential_id, threshold=threshold.key
            )
            self._schedule(credential_id, now + RETRY_AFTER_FAILED_POST)
            return
        nxt = upcoming(all_thresholds, now)
        if nxt is not None:
            self._schedule(credential_id, nxt.at)

    async def _post(self, record: CredentialRecord, threshold: Threshold, now: datetime) -> bool:
        """DM whoever registered the credential, and the alert channel; True when either got
        it (the other's failure is logged: posting again would repeat the one that worked)."""
        message = build_expiry_reminder(record, threshold, now=now, key_max_age_days=self._max_age)
        places = [record.registered_by, *([self._alert_channel] if self._alert_channel else [])]
        posted = []
        for channel in places:
            try:
                await self._slack.chat_postMessage(channel=channel, **message.as_kwargs())
            except CALL_FAILED as error:
                log.warning(
                    "expiry reminder of credential %s not posted to %s: %s",
                    record.id,
                    channel,
                    failure_reason(error),
                )
                continue
            posted.append(channel)
        if not posted:
            return False
        async with self._sessions() as session:
            await record_event(
                session=session,
                actor=SCHEDULER_ACTOR,
                action=AuditAction.CREDENTIAL_REMINDER_SENT,
                subject=Subject(credential_id=record.nylas_credential_id),
                details={
                    "threshold": threshold.key,
                    "due": threshold.due.isoformat(),
                    "posted_to": posted,
                },
            )
            await session.commit()
        log_event(
            log,
            "credential.reminder_sent",
            credential=record.nylas_credential_id,
            threshold=threshold.key,
        )
        return True
